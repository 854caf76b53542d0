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
  presetSourceProblems,
  type ArgPolicyContext,
  serializePresetIni,
  type JobRef,
  type LlamaArg,
  type PresetDocument,
  type Revisioned,
} from '@llamaproxy/shared';
import type { Broadcaster } from './broadcaster.js';
import type { DashboardState, DocumentChange } from './dashboard-state.js';
import type { ModelFeed } from './model-feed.js';
import type { JobService } from './job.service.js';

/**
 * Most problems one answer lists. A 512 KB INI can hold ~150,000 bad lines: listing all of them
 * made a 16 MB answer (and ~60 ms of JSON encoding on the event loop) from one request.
 */
export const MAX_REPORTED_PROBLEMS = 100;

/** The first MAX_REPORTED_PROBLEMS of `problems`, then one `more(n)` saying how many were left out. */
export function reportedProblems<T>(problems: readonly T[], more: (left: number) => T): T[] {
  return problems.length <= MAX_REPORTED_PROBLEMS
    ? [...problems]
    : [...problems.slice(0, MAX_REPORTED_PROBLEMS), more(problems.length - MAX_REPORTED_PROBLEMS)];
}

/**
 * Checks a preset against the node's argument catalogue and the flag policy, stores it under a
 * revision check (CONFLICT when the caller edited an older revision) and queues it for the
 * supervisor, which applies revisions in order. Used by the presets editor and per-model settings.
 */
export class PresetChanges {
  private readonly deps: { dashboard: DashboardState; jobs: JobService; broadcaster: Broadcaster; feed: ModelFeed };

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
   * Replaces the whole preset. `expected`: the preset revision the caller edited (CONFLICT when
   * stale). ARG_NOT_ALLOWED when the flag policy refuses a key (any section, per-model settings
   * included), PRESET_INVALID with every other problem (`problems`); nothing is stored then.
   */
  async replace(expected: number, preset: PresetDocument, what: string): Promise<{ preset: Revisioned<PresetDocument>; job: JobRef }> {
    const change = this.deps.dashboard.changePreset(expected, () => {
      this.check(preset);
      return preset;
    });
    return { preset: change.next, job: await this.queue(change, what) };
  }

  /**
   * Replaces one model's settings (its section; removed when empty). `expected`: that model's
   * settings revision, so edits of two models never overwrite each other.
   */
  async setModelSettings(modelId: string, expected: number, settings: Record<string, string>): Promise<{ settingsRevision: number; job: JobRef }> {
    const change = this.deps.dashboard.changeModelSettings(modelId, expected, settings, (preset) => this.check(preset));
    return { settingsRevision: change.settingsRevision, job: await this.queue(change, `settings of ${modelId} changed`) };
  }

  /**
   * What is wrong with a preset for this node, beyond what the flag policy refuses: unknown keys,
   * bad values, and custom entries with no model source (neither a model of the node's catalogue
   * nor a `model`/`hf-repo`/... key; the router would list them but never load them). The same
   * rule the supervisor applies before it writes the file, so a change is refused here, at once.
   */
  problems(preset: PresetDocument): string[] {
    const args = this.args();
    return [...presetProblems(preset, args), ...presetSourceProblems(preset, this.deps.dashboard.catalogueIds(this.deps.jobs.nodeId), args)];
  }

  /** Throws ARG_NOT_ALLOWED or PRESET_INVALID. */
  private check(preset: PresetDocument): void {
    const refused = argPolicyError(presetPolicyProblems(preset, this.policy()));
    if (refused !== null) {
      throw refused;
    }
    const problems = this.problems(preset);
    if (problems.length > 0) {
      throw new AppError(ErrorCode.PRESET_INVALID, reportedProblems(problems, (n) => `and ${n} more problems`).join('; '));
    }
  }

  /** Queues the stored change and tells every client; undoes it when it cannot be queued. */
  private async queue(change: DocumentChange<PresetDocument>, what: string): Promise<JobRef> {
    const { dashboard, jobs } = this.deps;
    let job: JobRef;
    try {
      job = await jobs.submit(JobName.presetApply, { preset: change.next.value, revision: change.next.revision }, what);
    } catch (err) {
      const undone = dashboard.replacePresetIf(change.next.revision, change.previous.value);
      if (undone !== null) {
        await this.broadcast(undone);
      }
      throw err;
    }
    await this.broadcast(change.next);
    return job;
  }

  private async broadcast(preset: Revisioned<PresetDocument>): Promise<void> {
    const { broadcaster, feed } = this.deps;
    await broadcaster.broadcast('presets:updated', { preset: preset.value, ini: serializePresetIni(preset.value), revision: preset.revision });
    await feed.publish();
  }

  /** Parses INI text; PRESET_INVALID naming each bad line. */
  parseIni(ini: string): PresetDocument {
    const parsed = parsePresetIni(ini);
    if (!parsed.ok) {
      const lines = parsed.problems.map((p) => `line ${p.line}: ${p.message}`);
      throw new AppError(ErrorCode.PRESET_INVALID, reportedProblems(lines, (n) => `and ${n} more problems`).join('; '));
    }
    return parsed.preset;
  }
}
