import type { LlamaArg } from '@llamaproxy/shared';

/** Column where llama-server's `--help` starts the description. */
const HELP_COLUMN = 40;

interface Draft {
  flagsText: string;
  help: string[];
  section: string;
}

/**
 * Parses `llama-server --help` into an argument catalogue: flags and short forms, the negative
 * form of booleans, env name, value type, choices, default and help text.
 */
export function parseLlamaHelp(text: string): LlamaArg[] {
  const drafts: Draft[] = [];
  let section = 'common';
  let current: Draft | null = null;
  for (const line of text.split(/\r?\n/)) {
    const header = /^-{3,}\s*(.+?)\s*-{3,}$/.exec(line);
    if (header?.[1]) {
      section = header[1].replace(/\s*params$/, '');
      current = null;
      continue;
    }
    if (line.startsWith('-')) {
      const splitsAtColumn = line.length > HELP_COLUMN && line[HELP_COLUMN - 1] === ' ' && line[HELP_COLUMN] !== ' ';
      const flagsText = splitsAtColumn ? line.slice(0, HELP_COLUMN).trim() : line.trim();
      current = { flagsText, help: splitsAtColumn ? [line.slice(HELP_COLUMN).trim()] : [], section };
      drafts.push(current);
      continue;
    }
    if (current !== null && /^\s{8,}\S/.test(line)) {
      current.help.push(line.trim());
    }
  }
  return drafts.map(toArg).filter((a): a is LlamaArg => a !== null);
}

function toArg(draft: Draft): LlamaArg | null {
  const flags: string[] = [];
  let valueHint: string | null = null;
  for (const part of draft.flagsText.split(/,\s*(?=-)/)) {
    // Names may contain dots (`--fim-qwen-1.5b-default`).
    const m = /^(-{1,2}[A-Za-z0-9][A-Za-z0-9_.-]*)(?:\s+(.+))?$/.exec(part.trim());
    if (!m?.[1]) {
      continue;
    }
    flags.push(m[1]);
    if (m[2]) {
      valueHint = m[2].trim();
    }
  }
  const positive = flags.filter((f) => !/^--no-/.test(f) && !isShortNegation(f, flags));
  const longFlag = positive.find((f) => f.startsWith('--')) ?? flags.find((f) => f.startsWith('--')) ?? flags[0];
  if (!longFlag) {
    return null;
  }
  const negation = flags.find((f) => f.startsWith('--no-')) ?? null;
  const helpText = draft.help.join(' ').replace(/\s+/g, ' ').trim();
  const env = /\(env: ([A-Z0-9_]+)\)/.exec(helpText)?.[1] ?? null;
  const defaultValue = /\(default: ([^)]*)\)/.exec(helpText)?.[1]?.trim() ?? null;
  const choices = parseChoices(valueHint);
  return {
    flags,
    key: longFlag.replace(/^-+/, ''),
    negation,
    env,
    valueType: valueTypeOf(valueHint, choices, defaultValue),
    valueHint,
    choices,
    default: defaultValue,
    help: helpText.replace(/\s*\(env: [A-Z0-9_]+\)/, ''),
    section: draft.section,
  };
}

/** `-nkvo` next to `-kvo`: a short negative form. */
function isShortNegation(flag: string, all: string[]): boolean {
  return /^-n[a-z]/.test(flag) && all.includes(`-${flag.slice(2)}`);
}

function parseChoices(hint: string | null): string[] | null {
  if (hint === null) {
    return null;
  }
  const m = /^[{[<]([A-Za-z0-9_.-]+(?:[|,][A-Za-z0-9_.-]+)+)[}\]>]$/.exec(hint);
  return m?.[1] ? m[1].split(/[|,]/) : null;
}

function valueTypeOf(hint: string | null, choices: string[] | null, defaultValue: string | null): LlamaArg['valueType'] {
  if (hint === null) {
    return 'flag';
  }
  if (choices !== null) {
    return 'enum';
  }
  if (/^(N|SECONDS|MiB|[A-Z]?N)$/.test(hint)) {
    return defaultValue !== null && /^-?\d+\.\d+/.test(defaultValue) ? 'float' : 'int';
  }
  return 'string';
}

