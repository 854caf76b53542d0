import { serializePresetIni, type JobName, type JobPayloads, type JobRef, type PresetDocument, type ServerConfig } from '@llamaproxy/shared';
import type { ControlQueue, JobUpdate } from '../repositories/control-queue.js';
import type { ActivityLog } from './activity-log.js';
import type { Broadcaster } from './broadcaster.js';
import type { DashboardState } from './dashboard-state.js';

/** A document stored only when the job that applies it succeeds. */
export type PendingOutcome = { kind: 'config'; config: ServerConfig } | { kind: 'preset'; preset: PresetDocument };

/**
 * Control jobs for the supervisor and what their outcomes change: intents are queued (and noted
 * on the Logs page), progress is relayed to every client, and a configuration or preset is stored
 * and broadcast only once the supervisor applied it.
 */
export class JobService {
  private readonly deps: { control: ControlQueue; dashboard: DashboardState; broadcaster: Broadcaster; activity: ActivityLog };
  /** Documents to store once their job completes, by job id. */
  private readonly pending = new Map<string, PendingOutcome>();

  constructor(deps: JobService['deps']) {
    this.deps = deps;
  }

  get nodeId(): string {
    return this.deps.control.nodeId;
  }

  /** Queues a job (deterministic id: an identical pending job is not added twice). */
  async submit<K extends JobName>(name: K, payload: JobPayloads[K], what: string, modelId: string | null = null, outcome?: PendingOutcome): Promise<JobRef> {
    const job = await this.deps.control.add(name, payload);
    if (job.created) {
      await this.deps.activity.record('info', what, modelId);
    }
    if (outcome !== undefined) {
      this.pending.set(job.jobId, outcome);
    }
    return job;
  }

  /** Job updates from the control queue: relay progress, store and broadcast outcomes. */
  onJobUpdate = async (update: JobUpdate): Promise<void> => {
    const { job, state, progress, error } = update;
    const { broadcaster, dashboard, activity } = this.deps;
    await broadcaster.broadcast('jobs:progress', { job, state, progress, error });
    if (state !== 'completed' && state !== 'failed') {
      return;
    }
    const pending = this.pending.get(job.jobId);
    this.pending.delete(job.jobId);
    const what = job.subject === null ? job.name : `${job.name} ${job.subject}`;
    if (state === 'failed') {
      await activity.record('warn', `${what} failed: ${error?.message ?? 'unknown error'}`, job.subject);
      return;
    }
    await activity.record('info', `${what} done`, job.subject);
    if (pending?.kind === 'config') {
      dashboard.saveServerConfig(pending.config);
      await broadcaster.broadcast('config:updated', { config: pending.config });
    } else if (pending?.kind === 'preset') {
      dashboard.savePreset(pending.preset);
      await broadcaster.broadcast('presets:updated', { preset: pending.preset, ini: serializePresetIni(pending.preset) });
      await broadcaster.broadcast('models:list', { models: dashboard.modelViews() });
    }
  };
}
