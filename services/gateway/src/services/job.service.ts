import {
  controlJobId,
  controlRunId,
  ErrorCode,
  jobDeadlineMs,
  JobName,
  JobPayloadSchemas,
  JobResultSchemas,
  serializePresetIni,
  type ErrorInfo,
  type JobPayloads,
  type JobRef,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { ControlQueue, JobUpdate } from '../repositories/control-queue.js';
import type { JobOutcome, JobRepository, StoredJob } from '../repositories/job.repository.js';
import type { ActivityLog } from './activity-log.js';
import type { Broadcaster } from './broadcaster.js';
import { Documents, type DashboardState } from './dashboard-state.js';
import type { ModelFeed } from './model-feed.js';

/** The queue operations the job service uses (ControlQueue). */
export type ControlQueuePort = Pick<ControlQueue, 'nodeId' | 'add' | 'state' | 'failOverdue'>;

export interface JobServiceDeps {
  control: ControlQueuePort;
  jobs: JobRepository;
  dashboard: DashboardState;
  broadcaster: Broadcaster;
  /** Sends what changed in the model list (a settings undo changes models' settings). */
  feed: ModelFeed;
  activity: ActivityLog;
  logger: Logger;
}

/** A job row younger than this (ms) that BullMQ does not have may still be on its way there. */
const MISSING_GRACE_MS = 60_000;

/**
 * Control jobs for the supervisor and what their outcomes change. Every job is recorded in the
 * shared database before it is queued; its outcome is stored once, keyed by job id, by whichever
 * replica sees it end first (or finds it ended when it reconciles), and only that replica applies
 * it: a configuration or preset the supervisor applied is recorded as applied, one it refused is
 * undone unless a newer revision superseded it. Progress is relayed by the replica that queued it.
 */
export class JobService {
  private readonly deps: JobServiceDeps;
  private readonly log: Logger;
  /** Jobs this replica queued and still follows, for progress relays. */
  private readonly following = new Map<string, JobRef>();
  /** Callers waiting for a job's outcome (`outcome()`), by job id. */
  private readonly waiters = new Map<string, Set<(outcome: JobOutcome) => void>>();

  constructor(deps: JobServiceDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'jobs' });
  }

  get nodeId(): string {
    return this.deps.control.nodeId;
  }

  /**
   * Queues a job. An identical intent still waiting or active is not added again (`created:
   * false`, the answer names that job); once it ended, the same request runs again.
   * Throws QUEUE_UNAVAILABLE / SUPERVISOR_UNAVAILABLE (nothing recorded then).
   */
  async submit<K extends JobName>(name: K, payload: JobPayloads[K], what: string, modelId: string | null = null, now = Date.now()): Promise<JobRef> {
    const { control, jobs, activity, broadcaster } = this.deps;
    const jobId = controlRunId(controlJobId(name, payload), now);
    const subject = 'modelId' in payload ? payload.modelId : null;
    // Recorded first: a job can end before `add` returns, and any replica must find it then.
    jobs.insert({ jobId, nodeId: control.nodeId, name, subject, payload, deadlineAt: now + jobDeadlineMs(name) }, now);
    let job: JobRef;
    try {
      job = await control.add(name, payload, jobId);
    } catch (err) {
      jobs.delete(jobId);
      throw err;
    }
    if (!job.created) {
      jobs.delete(jobId);
      return job;
    }
    this.following.set(job.jobId, job);
    await activity.record('info', what, modelId);
    await broadcaster.broadcast('jobs:progress', { job, state: 'queued', progress: null, error: null });
    return job;
  }

  /** Updates from the queue's event stream (every replica gets every job's). */
  onJobUpdate = async (update: JobUpdate): Promise<void> => {
    if (update.state === 'active' || update.state === 'progress') {
      const job = this.following.get(update.jobId);
      if (job !== undefined) {
        await this.deps.broadcaster.broadcast('jobs:progress', { job, state: update.state, progress: update.progress, error: null });
      }
      return;
    }
    const outcome: JobOutcome =
      update.state === 'completed' ? { state: 'completed', result: update.result } : { state: 'failed', error: update.error ?? { code: ErrorCode.JOB_FAILED, message: 'job failed' } };
    // Every replica hears every outcome: its own waiters learn it even when another stores it.
    this.settleWaiters(update.jobId, outcome);
    await this.finish(update.jobId, outcome);
  };

  /**
   * Waits for a job's outcome (any replica may have queued it), at most `timeoutMs`: then it
   * resolves as failed with TIMEOUT (the job itself goes on). A job that already ended resolves
   * at once with its outcome, read from the queue. Never rejects.
   */
  outcome(jobId: string, timeoutMs: number): Promise<JobOutcome> {
    return new Promise((resolve) => {
      let set = this.waiters.get(jobId);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(jobId, set);
      }
      const waiters = set;
      const done = (outcome: JobOutcome): void => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiters.get(jobId) === waiters) {
          this.waiters.delete(jobId);
        }
        resolve(outcome);
      };
      const timer = setTimeout(() => done({ state: 'failed', error: { code: ErrorCode.TIMEOUT, message: `no outcome within ${Math.round(timeoutMs / 1000)} s` } }), timeoutMs);
      waiters.add(done);
      // It may have ended before this caller listened.
      this.deps.control.state(jobId).then(
        (current) => {
          if (current.state === 'completed') {
            done({ state: 'completed', result: current.result });
          } else if (current.state === 'failed') {
            done({ state: 'failed', error: current.error });
          }
        },
        () => undefined,
      );
    });
  }

  private settleWaiters(jobId: string, outcome: JobOutcome): void {
    for (const done of [...(this.waiters.get(jobId) ?? [])]) {
      done(outcome);
    }
  }

  /**
   * Stores a job's outcome and applies it, once across replicas. False when it was stored
   * already or is not a job any gateway recorded.
   */
  async finish(jobId: string, outcome: JobOutcome, now = Date.now()): Promise<boolean> {
    this.following.delete(jobId);
    this.settleWaiters(jobId, outcome);
    const { jobs, broadcaster, activity } = this.deps;
    if (!jobs.finish(jobId, outcome, now)) {
      return false;
    }
    const stored = jobs.get(jobId);
    if (stored === null) {
      return false;
    }
    const job: JobRef = { jobId, name: stored.name, subject: stored.subject, nodeId: stored.nodeId, created: true };
    const error = outcome.state === 'failed' ? outcome.error : null;
    await broadcaster.broadcast('jobs:progress', { job, state: outcome.state, progress: null, error });
    const what = job.subject === null ? job.name : `${job.name} ${job.subject}`;
    if (outcome.state === 'failed') {
      await activity.record('warn', `${what} failed: ${outcome.error.message}`, job.subject);
    } else {
      await activity.record('info', `${what} done`, job.subject);
    }
    await this.applyOutcome(stored, outcome);
    return true;
  }

  /**
   * Settles every job of this node still recorded as queued: an outcome missed while no gateway
   * listened (a restart during a job) is read from BullMQ; a job BullMQ no longer has fails as
   * JOB_FAILED; one past its deadline (its worker died, or it hangs) is failed in BullMQ and here
   * as TIMEOUT. Returns how many were settled. Throws when Redis cannot be reached.
   */
  async reconcile(now = Date.now()): Promise<number> {
    const { jobs, control } = this.deps;
    let settled = 0;
    for (const job of jobs.queued(control.nodeId)) {
      const current = await control.state(job.jobId);
      let outcome: JobOutcome | null = null;
      if (current.state === 'completed') {
        outcome = { state: 'completed', result: current.result };
      } else if (current.state === 'failed') {
        outcome = { state: 'failed', error: current.error };
      } else if (current.state === 'missing') {
        if (now - job.createdAt > MISSING_GRACE_MS) {
          outcome = { state: 'failed', error: { code: ErrorCode.JOB_FAILED, message: 'the job is gone from the queue; its outcome is unknown' } };
        }
      } else if (now > job.deadlineAt) {
        const error: ErrorInfo = { code: ErrorCode.TIMEOUT, message: `no outcome within ${Math.round((job.deadlineAt - job.createdAt) / 1000)} s` };
        await control.failOverdue(job.jobId, error);
        outcome = { state: 'failed', error };
      }
      if (outcome !== null && (await this.finish(job.jobId, outcome, now))) {
        settled++;
      }
    }
    return settled;
  }

  /** A document job's outcome: recorded as applied, or undone when it failed and nothing newer came. */
  private async applyOutcome(job: StoredJob, outcome: JobOutcome): Promise<void> {
    const { dashboard, broadcaster, feed } = this.deps;
    if (job.name === JobName.configApply) {
      const payload = JobPayloadSchemas[JobName.configApply].safeParse(job.payload);
      if (!payload.success) {
        return;
      }
      if (outcome.state === 'completed') {
        const result = JobResultSchemas[JobName.configApply].safeParse(outcome.result);
        if (result.success && !result.data.superseded) {
          dashboard.markApplied(Documents.config, { value: payload.data.config, revision: payload.data.revision });
        }
        return;
      }
      const applied = dashboard.appliedServerConfig();
      const undone = applied === null ? null : dashboard.replaceServerConfigIf(payload.data.revision, applied.value);
      if (undone !== null) {
        this.log.info('configuration change undone: the supervisor did not apply it', { revision: payload.data.revision });
        await broadcaster.broadcast('config:updated', { config: undone.value, revision: undone.revision });
      }
    } else if (job.name === JobName.presetApply) {
      const payload = JobPayloadSchemas[JobName.presetApply].safeParse(job.payload);
      if (!payload.success) {
        return;
      }
      if (outcome.state === 'completed') {
        const result = JobResultSchemas[JobName.presetApply].safeParse(outcome.result);
        if (result.success && !result.data.superseded) {
          dashboard.markApplied(Documents.preset, { value: payload.data.preset, revision: payload.data.revision });
        }
        return;
      }
      const applied = dashboard.appliedPreset();
      const undone = applied === null ? null : dashboard.replacePresetIf(payload.data.revision, applied.value);
      if (undone !== null) {
        this.log.info('preset change undone: the supervisor did not apply it', { revision: payload.data.revision });
        await broadcaster.broadcast('presets:updated', { preset: undone.value, ini: serializePresetIni(undone.value), revision: undone.revision });
        await feed.publish();
      }
    }
  }
}
