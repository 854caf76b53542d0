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

/**
 * llama.cpp's one boolean rule (common/arg.cpp, `common_arg_utils::is_truthy` / `is_falsey`):
 * exactly these spellings, case-sensitive. Anything else is neither: a flag given "yes" stays on
 * (to_args pushes it), a negated key given "no" turns it on (`no-mmap = no` means mmap on), and
 * `load-on-startup = yes` loads nothing. Such values are refused, never guessed.
 */
export const TRUTHY_VALUES = ['on', 'enabled', 'true', '1'] as const;
export const FALSEY_VALUES = ['off', 'disabled', 'false', '0'] as const;
/** `common_arg_utils::is_autoy`, accepted by the [on|off|auto] arguments. */
export const AUTO_VALUES = ['auto', '-1'] as const;

export const isTruthy = (value: string): boolean => (TRUTHY_VALUES as readonly string[]).includes(value);
export const isFalsey = (value: string): boolean => (FALSEY_VALUES as readonly string[]).includes(value);

/** What kind of value an argument takes, as llama-server's handler for it parses it. */
export const ArgValueKind = {
  /** No value on the command line; in a preset the boolean rule above. */
  bool: 'bool',
  /** `[on|off]` / `[on|off|auto]`: the boolean rule, plus auto/-1 where offered. */
  toggle: 'toggle',
  /** A layer count: an integer, `auto` or `all` (`--n-gpu-layers`). */
  count: 'count',
  enum: 'enum',
  int: 'int',
  float: 'float',
  /** Items separated by ";" (`--samplers`): a preset can hold only one (";" starts a comment). */
  list: 'list',
  string: 'string',
} as const;
export type ArgValueKind = (typeof ArgValueKind)[keyof typeof ArgValueKind];

export interface ArgValueRule {
  kind: ArgValueKind;
  /** Values to offer in a picker (the canonical spellings); null for free input. */
  choices: string[] | null;
}

const TOGGLE_WORDS = new Set(['on', 'off', 'auto']);

/**
 * The value rule of an argument, from what `--help` says about it: `[on|off|auto]` hints,
 * "either an exact number, 'auto', or 'all'", "allowed values: a, b", "one of: - a: … - b: …",
 * "separated by ';'". Pure, so the supervisor, the gateway and the browser apply the same rule.
 */
export function argValueRule(arg: LlamaArg): ArgValueRule {
  if (arg.valueType === 'flag') {
    return { kind: 'bool', choices: ['true', 'false'] };
  }
  if (arg.choices !== null && arg.choices.length > 0 && arg.choices.every((c) => TOGGLE_WORDS.has(c))) {
    return { kind: 'toggle', choices: arg.choices };
  }
  if (arg.choices !== null && arg.choices.length > 0) {
    return { kind: 'enum', choices: arg.choices };
  }
  if (/'auto',?\s+or\s+'all'/.test(arg.help)) {
    return { kind: 'count', choices: ['auto', 'all'] };
  }
  const allowed = /allowed values: ([A-Za-z0-9_.-]+(?:, [A-Za-z0-9_.-]+)+)/.exec(arg.help);
  if (allowed?.[1] !== undefined) {
    return { kind: 'enum', choices: allowed[1].split(', ') };
  }
  const oneOf = /one of: ((?:- [A-Za-z0-9_.-]+(?: \(default\))?: .*?)+)(?:\(default: ([A-Za-z0-9_.-]+)\)|$)/.exec(arg.help);
  if (oneOf?.[1] !== undefined) {
    const names = [...oneOf[1].matchAll(/(?:^|\s)- ([A-Za-z0-9_.-]+)(?: \(default\))?:/g)].map((m) => m[1] ?? '');
    if (oneOf[2] !== undefined && !names.includes(oneOf[2])) {
      names.push(oneOf[2]);
    }
    if (names.length > 1) {
      return { kind: 'enum', choices: names };
    }
  }
  if (/separated by ';'/.test(arg.help)) {
    return { kind: 'list', choices: null };
  }
  if (arg.valueType === 'int' || arg.valueType === 'float') {
    return { kind: arg.valueType, choices: null };
  }
  return { kind: 'string', choices: null };
}

const INT = /^-?\d+$/;

/** Why `value` is not valid for `arg`, or null. The same rule for presets, dialogs and extra args. */
export function argValueProblem(arg: LlamaArg, value: string): string | null {
  const rule = argValueRule(arg);
  switch (rule.kind) {
    case 'bool':
      return isTruthy(value) || isFalsey(value)
        ? null
        : `expects on/enabled/true/1 or off/disabled/false/0 (llama-server reads nothing else as a boolean), got "${value}"`;
    case 'toggle': {
      const auto = rule.choices?.includes('auto') === true;
      if (isTruthy(value) || isFalsey(value) || (auto && (AUTO_VALUES as readonly string[]).includes(value))) {
        return null;
      }
      // llama-server also takes the boolean spellings (and -1 for auto); the message names the canonical ones.
      return `expects one of ${rule.choices?.join(', ')}, got "${value}"`;
    }
    case 'count':
      return INT.test(value) || value === 'auto' || value === 'all' ? null : `expects a number, auto or all, got "${value}"`;
    case 'enum':
      return rule.choices?.includes(value) ? null : `expects one of ${rule.choices?.join(', ')}, got "${value}"`;
    case 'int':
      return INT.test(value) ? null : `expects an integer, got "${value}"`;
    case 'float':
      return /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(value) ? null : `expects a number, got "${value}"`;
    case 'list':
    case 'string':
      return null;
  }
}

/** Preset-only keys (common_params_add_preset_options): why the router would not read `value` as meant, or null. */
export function presetOnlyProblem(key: string, value: string): string | null {
  switch (key) {
    case 'load-on-startup':
    case 'dedup-cache-models':
      // Read with is_truthy only: anything else means "no".
      return isTruthy(value) || isFalsey(value) ? null : `expects true or false (llama-server reads anything but on/enabled/true/1 as false), got "${value}"`;
    case 'stop-timeout':
      return /^\d+$/.test(value) ? null : `expects a whole number of seconds, got "${value}"`;
    default:
      return null;
  }
}

/** llama-server options that give a preset entry its model file. */
export const MODEL_SOURCE_ENVS = ['LLAMA_ARG_MODEL', 'LLAMA_ARG_MODEL_URL', 'LLAMA_ARG_HF_REPO', 'LLAMA_ARG_DOCKER_REPO'] as const;
const MODEL_SOURCE_KEYS = ['model', 'm', 'model-url', 'mu', 'hf-repo', 'hf', 'hfr', 'docker-repo', 'dr'];

/** Whether `key` (any of its names) gives a model source, with or without a catalogue. */
function isModelSourceKey(key: string, index: Map<string, LlamaArg> | null): boolean {
  const arg = index?.get(key);
  if (arg !== undefined) {
    return arg.env !== null && (MODEL_SOURCE_ENVS as readonly string[]).includes(arg.env);
  }
  return MODEL_SOURCE_KEYS.includes(key) || (MODEL_SOURCE_ENVS as readonly string[]).includes(key);
}

/**
 * Custom entries without a model: a section that names no model of the catalogue and has no
 * model source of its own (nor one in `[*]`) is listed by the router but can never load.
 * `modelIds`: ids of the models directory's catalogue; null when unknown (nothing is checked).
 */
export function presetSourceProblems(preset: PresetDocument, modelIds: ReadonlySet<string> | null, args: readonly LlamaArg[] | null = null): string[] {
  if (modelIds === null) {
    return [];
  }
  const index = args === null ? null : indexArgs(args);
  if (Object.keys(preset.global).some((k) => isModelSourceKey(k, index))) {
    return [];
  }
  return preset.sections
    .filter((s) => !modelIds.has(s.name) && !Object.keys(s.values).some((k) => isModelSourceKey(k, index)))
    .map((s) => `[${s.name}]: no model "${s.name}" in the models directory, and no model source (model, hf-repo, model-url or docker-repo) for a custom entry`);
}

/**
 * Problems of a preset document that make it invalid for this binary: unknown keys and values of
 * the wrong type, per section, as `[section] key: reason`. Whether a key may be used at all is the
 * flag policy's call (`presetPolicyProblems` in arg-policy.ts). Without a catalogue only the
 * preset-only keys' values are checked. Two keys naming one argument (`c` and `ctx-size`) are refused:
 * llama-server keeps the one that sorts last, not the one written last.
 */
export function presetProblems(preset: PresetDocument, args: readonly LlamaArg[] | null): string[] {
  const index = args === null ? null : indexArgs(args);
  const problems: string[] = [];
  const check = (section: string, values: Record<string, string>): void => {
    const seen = new Map<LlamaArg, string>();
    for (const [key, value] of Object.entries(values)) {
      if ((PRESET_ONLY_KEYS as readonly string[]).includes(key)) {
        const problem = presetOnlyProblem(key, value);
        if (problem !== null) {
          problems.push(`[${section}] ${key}: ${problem}`);
        }
        continue;
      }
      if (index === null) {
        continue;
      }
      const arg = index.get(key);
      const other = arg === undefined ? undefined : seen.get(arg);
      if (arg !== undefined && other !== undefined) {
        // Both land on one option; llama-server keeps whichever key sorts last, not the last written.
        problems.push(`[${section}] ${key}: sets the same argument as ${other}; keep one`);
        continue;
      }
      if (arg !== undefined) {
        seen.set(arg, key);
      }
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
