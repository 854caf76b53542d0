/**
 * Checks preset keys and values against llama-server's argument catalogue (`llama:args`).
 * Uses the shared validators at run time, so only lazily loaded pages may import this file.
 */
import {
  PRESET_ONLY_KEYS,
  argValueProblem,
  checkArg,
  indexArgs,
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

const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

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
    return 'keys are flag names without dashes, e.g. ctx-size';
  }
  if (/[\r\n]/.test(value)) {
    return 'values must be on one line';
  }
  if ((PRESET_ONLY_KEYS as readonly string[]).includes(key)) {
    return null;
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
  if (arg.choices) {
    parts.push(`one of ${arg.choices.join(', ')}`);
  } else if (arg.valueType !== 'string') {
    parts.push(arg.valueType);
  }
  if (arg.default !== null) {
    parts.push(`default ${arg.default}`);
  }
  return `${parts.join(' · ')} — ${arg.help}`;
}
