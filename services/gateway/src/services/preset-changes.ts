import {
  AppError,
  argPolicyContext,
  argPolicyError,
  ErrorCode,
  extraArgsPolicyProblems,
  JobName,
  parsePresetIni,
  presetPolicyProblems,
  presetProblems,
  type ArgPolicyContext,
  type JobRef,
  type LlamaArg,
  type PresetDocument,
} from '@llamaproxy/shared';
import type { DashboardState } from './dashboard-state.js';
import type { JobService } from './job.service.js';

/**
 * Checks a preset against the node's argument catalogue and the flag policy, then queues it for
 * the supervisor; it is stored once applied. Used by the presets editor and per-model settings.
 */
export class PresetChanges {
  private readonly deps: { dashboard: DashboardState; jobs: JobService };

  constructor(deps: PresetChanges['deps']) {
    this.deps = deps;
  }

  /** The node's argument catalogue (parsed from its llama-server's `--help`), null before it reported. */
  args(): LlamaArg[] | null {
    return this.deps.dashboard.args(this.deps.jobs.nodeId)?.args ?? null;
  }

  /**
   * The flag policy's context: the node's catalogue and the models directory and allow list its
   * supervisor published (the environment's LLAMA_ALLOW_ARGS; the web app can never widen it).
   */
  policy(): ArgPolicyContext {
    return argPolicyContext(this.deps.dashboard.args(this.deps.jobs.nodeId), this.deps.dashboard.serverConfig().modelsDir);
  }

  /** Throws ARG_NOT_ALLOWED naming each flag the policy refuses in these extra arguments. */
  assertExtraArgsAllowed(extraArgs: readonly string[]): void {
    const error = argPolicyError(extraArgsPolicyProblems(extraArgs, this.policy()));
    if (error !== null) {
      throw error;
    }
  }

  /**
   * Queues `preset`: ARG_NOT_ALLOWED when the flag policy refuses a key (any section, per-model
   * settings included), PRESET_INVALID with every other problem.
   */
  async apply(preset: PresetDocument, what: string): Promise<JobRef> {
    const refused = argPolicyError(presetPolicyProblems(preset, this.policy()));
    if (refused !== null) {
      throw refused;
    }
    const problems = presetProblems(preset, this.args());
    if (problems.length > 0) {
      throw new AppError(ErrorCode.PRESET_INVALID, problems.join('; '));
    }
    return this.deps.jobs.submit(JobName.presetApply, { preset }, what, null, { kind: 'preset', preset });
  }

  /** Parses INI text; PRESET_INVALID naming each bad line. */
  parseIni(ini: string): PresetDocument {
    const parsed = parsePresetIni(ini);
    if (!parsed.ok) {
      throw new AppError(ErrorCode.PRESET_INVALID, parsed.problems.map((p) => `line ${p.line}: ${p.message}`).join('; '));
    }
    return parsed.preset;
  }
}
