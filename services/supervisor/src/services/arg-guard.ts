import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, sep } from 'node:path';
import {
  AppError,
  argPolicyError,
  ErrorCode,
  extraArgsPolicyProblems,
  extraArgsProblems,
  presetPolicyProblems,
  presetProblems,
  presetSourceProblems,
  type ArgPathCheck,
  type ArgPolicyContext,
  type ArgPolicyInfo,
  type ArgPolicyProblem,
  type LlamaArg,
  type PresetDocument,
} from '@llamaproxy/shared';

/** Resolves symlinks of an existing path (libc `realpath`, so `..` is physical); throws if it does not exist. */
export type RealPath = (path: string) => string;

const nativeRealpath: RealPath = (path) => realpathSync.native(path);

/**
 * The path as the kernel would open it: symlinks of its longest existing prefix resolved, the rest
 * appended. Null when the part that does not exist yet contains `..` (it cannot be judged, and
 * opening it would fail anyway).
 */
export function resolveRealPath(path: string, realpath: RealPath = nativeRealpath): string | null {
  const tail: string[] = [];
  let current = path;
  for (;;) {
    try {
      const real = realpath(current);
      return tail.length === 0 ? real : [real.replace(/\/$/, ''), ...tail].join(sep);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const parent = dirname(current);
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === current) {
        return null;
      }
      const name = basename(current);
      if (name === '..') {
        return null;
      }
      if (name !== '.' && name !== '') {
        tail.unshift(name);
      }
      current = parent;
    }
  }
}

/**
 * The supervisor's path check, after the lexical one: the value (relative ones relative to the
 * models directory, llama-server's working directory) with its symlinks resolved must still lie
 * inside the models directory with its symlinks resolved.
 */
export function realPathCheck(realpath: RealPath = nativeRealpath): ArgPathCheck {
  return (path, modelsDir) => {
    const root = resolveRealPath(modelsDir, realpath) ?? modelsDir;
    // Not path.join: it would resolve "link/.." lexically, where the kernel follows the link first.
    const target = resolveRealPath(isAbsolute(path) ? path : `${modelsDir}/${path}`, realpath);
    if (target === null) {
      return `"${path}" cannot be resolved inside the models directory`;
    }
    const inside = root === sep ? target !== sep : target.startsWith(`${root.replace(/\/$/, '')}${sep}`);
    return inside ? null : `"${path}" resolves to ${target}, outside the models directory ${root}`;
  };
}

export interface ArgGuardOptions {
  /** The models directory from the environment (`MODELS_DIR`). */
  modelsDir: string;
  /** Keys widened by `LLAMA_ALLOW_ARGS`. */
  allow: readonly string[];
  /** The binary's arguments, or null when it could not be run. */
  args: readonly LlamaArg[] | null;
  realpath?: RealPath;
}

/**
 * The flag policy as the supervisor enforces it, last, before it writes the preset file or starts
 * llama-server: the shared table (shared/src/arg-policy.ts) with the realpath check for path values.
 */
export class ArgGuard {
  readonly context: ArgPolicyContext;

  constructor(options: ArgGuardOptions) {
    this.context = {
      args: options.args,
      modelsDir: options.modelsDir,
      allow: options.allow,
      checkPath: realPathCheck(options.realpath),
    };
  }

  /** What is published with the argument catalogue, so the gateway and the browser check the same. */
  get info(): ArgPolicyInfo {
    return { modelsDir: this.context.modelsDir, allow: [...(this.context.allow ?? [])] };
  }

  /** Policy problems of extra arguments (for start-up, where they become a configuration error). */
  extraArgsPolicyProblems(extra: readonly string[]): ArgPolicyProblem[] {
    return extraArgsPolicyProblems(extra, this.context);
  }

  /** Throws ARG_NOT_ALLOWED for refused flags, INVALID_ARGUMENT for flags this binary lacks. */
  checkExtraArgs(extra: readonly string[]): void {
    const refused = argPolicyError(extraArgsPolicyProblems(extra, this.context));
    if (refused !== null) {
      throw refused;
    }
    const invalid = extraArgsProblems(extra, this.context.args);
    if (invalid.length > 0) {
      throw new AppError(ErrorCode.INVALID_ARGUMENT, invalid.join('; '));
    }
  }

  /**
   * Throws ARG_NOT_ALLOWED for refused keys or paths, PRESET_INVALID for unknown keys, bad values
   * and (with `modelIds`, the catalogue's ids) custom entries without a model source.
   */
  checkPreset(preset: PresetDocument, modelIds: ReadonlySet<string> | null = null): void {
    const refused = argPolicyError(presetPolicyProblems(preset, this.context));
    if (refused !== null) {
      throw refused;
    }
    const invalid = [...presetProblems(preset, this.context.args), ...presetSourceProblems(preset, modelIds, this.context.args)];
    if (invalid.length > 0) {
      throw new AppError(ErrorCode.PRESET_INVALID, invalid.join('; '));
    }
  }
}
