import type { LlamaArg } from './llama.js';
import { PRESET_ONLY_KEYS, type PresetDocument } from './presets.js';

/**
 * Validation of llama-server arguments and preset keys against the argument catalogue the
 * supervisor parsed from its binary's `--help`. Used by the supervisor before it applies a preset
 * or flags, and by the gateway to answer a client before anything is queued.
 */

/** Every name an argument goes by (`-c`, `--ctx-size`, `ctx-size`, `LLAMA_ARG_CTX_SIZE`). */
export function indexArgs(args: readonly LlamaArg[]): Map<string, LlamaArg> {
  const index = new Map<string, LlamaArg>();
  for (const arg of args) {
    for (const flag of arg.flags) {
      index.set(flag, arg);
      index.set(flag.replace(/^-+/, ''), arg);
    }
    if (arg.env) {
      index.set(arg.env, arg);
    }
  }
  return index;
}

/** Why `value` is not valid for `arg`, or null. */
export function argValueProblem(arg: LlamaArg, value: string): string | null {
  switch (arg.valueType) {
    case 'flag':
      return /^(true|false|1|0|on|off|yes|no|)$/i.test(value) ? null : `expects true or false, got "${value}"`;
    case 'int':
      return /^-?\d+$/.test(value) ? null : `expects an integer, got "${value}"`;
    case 'float':
      return /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(value) ? null : `expects a number, got "${value}"`;
    case 'enum':
      return arg.choices === null || arg.choices.includes(value) ? null : `expects one of ${arg.choices.join(', ')}, got "${value}"`;
    case 'string':
      return null;
  }
}

/**
 * Problems of a preset document that make it invalid for this binary: unknown keys and values of
 * the wrong type, per section, as `[section] key: reason`. Whether a key may be used at all is the
 * flag policy's call (`presetPolicyProblems` in arg-policy.ts). Without a catalogue nothing is
 * checked here.
 */
export function presetProblems(preset: PresetDocument, args: readonly LlamaArg[] | null): string[] {
  const index = args === null ? null : indexArgs(args);
  const problems: string[] = [];
  const check = (section: string, values: Record<string, string>): void => {
    for (const [key, value] of Object.entries(values)) {
      if ((PRESET_ONLY_KEYS as readonly string[]).includes(key) || index === null) {
        continue;
      }
      const arg = index.get(key);
      if (arg === undefined) {
        problems.push(`[${section}] ${key}: not an argument of this llama-server`);
        continue;
      }
      const problem = argValueProblem(arg, value);
      if (problem !== null) {
        problems.push(`[${section}] ${key}: ${problem}`);
      }
    }
  };
  check('*', preset.global);
  for (const section of preset.sections) {
    check(section.name, section.values);
  }
  return problems;
}

/**
 * Problems of extra command-line arguments that make them invalid for this binary: flags it does
 * not have. Whether a known flag may be used at all is the flag policy's call
 * (`extraArgsPolicyProblems` in arg-policy.ts, error code ARG_NOT_ALLOWED). Without a catalogue
 * nothing is checked here. A flag's value (the next token) is skipped when the catalogue says it
 * takes one, so a value that starts with "-" is not taken for a flag.
 */
export function extraArgsProblems(extra: readonly string[], args: readonly LlamaArg[] | null): string[] {
  if (args === null) {
    return [];
  }
  const index = indexArgs(args);
  const problems: string[] = [];
  for (let i = 0; i < extra.length; i++) {
    const token = extra[i] ?? '';
    if (!token.startsWith('-') || /^-\d/.test(token)) {
      continue;
    }
    const flag = token.split('=')[0] ?? token;
    const arg = index.get(flag);
    if (arg === undefined) {
      problems.push(`unknown llama-server argument ${flag}`);
    } else if (!token.includes('=') && arg.valueType !== 'flag' && !/^--?no-/.test(flag)) {
      i++;
    }
  }
  return problems;
}
