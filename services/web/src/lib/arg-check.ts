/**
 * Checks preset keys and values against llama-server's argument catalogue (`llama:args`).
 * Uses the shared validators at run time, so only lazily loaded pages may import this file.
 */
import {
  PRESET_ONLY_KEYS,
  argValueProblem,
  argValueRule,
  checkArg,
  indexArgs,
  presetOnlyProblem,
  presetValueProblem,
  type ArgPolicyContext,
  type ArgPolicyInfo,
  type LlamaArg,
} from '@llamaproxy/shared';

export interface ArgIndex {
  args: readonly LlamaArg[];
  /** Every name an argument goes by → the argument. */
  byName: Map<string, LlamaArg>;
  /** Preset keys to suggest, sorted. */
  keys: string[];
  /**
   * The flag policy the supervisor enforces (models directory, keys its environment allows), or
   * null when it did not publish one; then only the supervisor judges it.
   */
  policy: ArgPolicyContext | null;
}

/** llama.cpp's preset key rule (common/preset.cpp `ident`); a key starting with a digit breaks the file. */
const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function buildArgIndex(args: readonly LlamaArg[], policy: ArgPolicyInfo | null = null): ArgIndex {
  const keys = [...new Set([...args.map((a) => a.key), ...PRESET_ONLY_KEYS])].sort();
  return { args, byName: indexArgs(args), keys, policy: policy === null ? null : { args, modelsDir: policy.modelsDir, allow: policy.allow } };
}

/** Why the flag policy refuses `key = value` (e.g. "not allowed: it writes files on the host"), or null. */
function policyProblem(key: string, value: string, index: ArgIndex | null): string | null {
  return index?.policy ? (checkArg(key, value, index.policy, index.byName)?.reason ?? null) : null;
}

/** Why `key = value` is not accepted, or null. Without a catalogue only the syntax is checked. */
export function presetEntryProblem(key: string, value: string, index: ArgIndex | null, allowModelKey: boolean): string | null {
  if (key === '') {
    return 'the key is empty';
  }
  if (!KEY_PATTERN.test(key)) {
    return /^\d/.test(key) ? 'a key cannot start with a digit (llama-server would refuse the whole preset file)' : 'keys are flag names without dashes, e.g. ctx-size';
  }
  const written = presetValueProblem(value);
  if (written !== null) {
    return written;
  }
  if ((PRESET_ONLY_KEYS as readonly string[]).includes(key)) {
    return presetOnlyProblem(key, value);
  }
  if (key === 'model' && allowModelKey) {
    return value.trim() === '' ? 'a custom entry needs the path of its GGUF file' : policyProblem(key, value, index);
  }
  if (index === null) {
    return null;
  }
  const arg = index.byName.get(key);
  if (arg === undefined) {
    return 'not an argument of this llama-server';
  }
  return argValueProblem(arg, value) ?? policyProblem(key, value, index);
}

/** One line of help for a key: its flags, type, choices and default. */
export function argHint(key: string, index: ArgIndex | null): string {
  const arg = index?.byName.get(key);
  if (arg === undefined) {
    return (PRESET_ONLY_KEYS as readonly string[]).includes(key) ? 'preset option (not a command-line flag)' : '';
  }
  const parts = [arg.flags.join(', ')];
  const rule = argValueRule(arg);
  if (rule.kind === 'count') {
    parts.push('a number, auto or all');
  } else if (rule.choices) {
    parts.push(`one of ${rule.choices.join(', ')}`);
  } else if (rule.kind !== 'string') {
    parts.push(rule.kind === 'list' ? 'one item (a preset cannot hold ";")' : rule.kind);
  }
  if (arg.default !== null) {
    parts.push(`default ${arg.default}`);
  }
  return `${parts.join(' · ')} — ${arg.help}`;
}

/** Values to offer for `key` (the same sets the validators accept), empty for free input. */
export function argValueChoices(key: string, index: ArgIndex | null): string[] {
  if (key === 'load-on-startup' || key === 'dedup-cache-models') {
    return ['true', 'false'];
  }
  const arg = index?.byName.get(key);
  return arg === undefined ? [] : (argValueRule(arg).choices ?? []);
}

/**
 * Every entry problem of a whole preset document, as `[section] key: reason`, by the same rule as
 * the structured editor's rows (so the raw INI view refuses exactly what the form refuses).
 * `modelIds`: sections that name a model of the catalogue (they may not set `model`).
 */
export function presetDocumentProblems(
  doc: { global: Record<string, string>; sections: readonly { name: string; values: Record<string, string> }[] },
  index: ArgIndex | null,
  modelIds: ReadonlySet<string>,
): string[] {
  const problems: string[] = [];
  const check = (name: string, values: Record<string, string>, allowModelKey: boolean): void => {
    for (const [key, value] of Object.entries(values)) {
      const problem = presetEntryProblem(key, value, index, allowModelKey);
      if (problem !== null) {
        problems.push(`[${name}] ${key}: ${problem}`);
      }
    }
  };
  check('*', doc.global, false);
  for (const section of doc.sections) {
    check(section.name, section.values, !modelIds.has(section.name));
  }
  return problems;
}
