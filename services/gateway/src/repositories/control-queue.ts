import { Queue, QueueEvents, UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import {
  AppError,
  controlJobId,
  controlQueueName,
  decodeJobError,
  encodeJobError,
  ErrorCode,
  JOB_RETENTION,
  JOB_RETRY,
  JobProgressSchema,
  QUEUE_PREFIX,
  type ErrorInfo,
  type JobName,
  type JobPayloads,
  type JobProgress,
  type JobRef,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import { requireWorkers } from './queue-workers.js';

/** What the queue's event stream says about a job (any job of the node, queued by any replica). */
export interface JobUpdate {
  jobId: string;
  state: 'active' | 'progress' | 'completed' | 'failed';
  progress: JobProgress | null;
  error: ErrorInfo | null;
  result: unknown;
}

/** A job as BullMQ holds it now. `missing`: removed (retention) or never there. */
export type QueuedJobState =
  | { state: 'waiting' | 'delayed' | 'active' | 'missing' }
  | { state: 'completed'; result: unknown }
  | { state: 'failed'; error: ErrorInfo };

/**
 * The producer side of a supervisor node's control queue (BullMQ). Jobs are added with a unique
 * run id and the intent key as BullMQ's deduplication id, so an identical intent is one job only
 * while it is waiting, delayed or active; after it completed or failed the same request runs again.
 * Transient failures are retried with exponential backoff (JOB_RETRY); finished jobs are kept,
 * bounded (JOB_RETENTION), so an outcome a gateway missed can still be read.
 */
export class ControlQueue {
  readonly nodeId: string;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly connections: Redis[];
  private readonly log: Logger;
  private onUpdate: (update: JobUpdate) => void = () => undefined;

  constructor(redisUrl: string, nodeId: string, logger: Logger) {
    this.nodeId = nodeId;
    this.log = logger.child({ module: 'control-queue' });
    // Fail fast when Redis is down: a request must get an error at once, never hang.
    const producer = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    const listener = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.connections = [producer, listener];
    for (const c of this.connections) {
      c.on('error', () => undefined);
    }
    const name = controlQueueName(nodeId);
    this.queue = new Queue(name, { connection: producer, prefix: QUEUE_PREFIX });
    this.queue.on('error', (err) => this.log.warn('queue error', { error: err.message }));
    this.events = new QueueEvents(name, { connection: listener, prefix: QUEUE_PREFIX });
    this.events.on('error', (err) => this.log.warn('queue events error', { error: err.message }));
    this.events.on('active', ({ jobId }) => this.emit({ jobId, state: 'active', progress: null, error: null, result: undefined }));
    this.events.on('progress', ({ jobId, data }) => {
      const progress = JobProgressSchema.safeParse(data);
      this.emit({ jobId, state: 'progress', progress: progress.success ? progress.data : null, error: null, result: undefined });
    });
    this.events.on('completed', ({ jobId, returnvalue }) => this.emit({ jobId, state: 'completed', progress: null, error: null, result: parseResult(returnvalue) }));
    this.events.on('failed', ({ jobId, failedReason }) => this.emit({ jobId, state: 'failed', progress: null, error: decodeJobError(failedReason), result: undefined }));
  }

  /** Starts following the queue's events: every job's, whichever replica queued it. */
  async init(onUpdate: (update: JobUpdate) => void): Promise<void> {
    this.onUpdate = onUpdate;
    await this.events.waitUntilReady().catch(() => undefined);
  }

  /**
   * Queues a control job as run `jobId` (see controlRunId) of its intent. When an identical intent
   * is still waiting or active, nothing is added and the answer names that job (`created: false`).
   * Throws QUEUE_UNAVAILABLE when Redis is down, SUPERVISOR_UNAVAILABLE when no supervisor
   * consumes the queue.
   */
  async add<K extends JobName>(name: K, payload: JobPayloads[K], jobId: string): Promise<JobRef> {
    await requireWorkers(this.queue, `no supervisor is serving node "${this.nodeId}"`);
    const subject = 'modelId' in payload ? payload.modelId : null;
    try {
      // Deduplication is one Lua script in Redis: two identical requests at the same moment (a
      // double click, two replicas) get the same job, and only the first is `created`.
      const job = await this.queue.add(name, payload, {
        jobId,
        deduplication: { id: controlJobId(name, payload) },
        attempts: JOB_RETRY.attempts,
        backoff: { type: 'exponential', delay: JOB_RETRY.backoffMs },
        removeOnComplete: JOB_RETENTION.completed,
        removeOnFail: JOB_RETENTION.failed,
      });
      const id = job.id ?? jobId;
      return { jobId: id, name, subject, nodeId: this.nodeId, created: id === jobId };
    } catch (err) {
      throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'the job queue (Redis) is unavailable', { cause: err });
    }
  }

  /** Where a job is now, with its outcome once it ended. Throws when Redis cannot be reached. */
  async state(jobId: string): Promise<QueuedJobState> {
    const job = await this.queue.getJob(jobId);
    if (!job) {
      return { state: 'missing' };
    }
    const state = await job.getState();
    switch (state) {
      case 'completed':
        return { state: 'completed', result: job.returnvalue as unknown };
      case 'failed':
        return { state: 'failed', error: decodeJobError(job.failedReason) };
      case 'active':
      case 'delayed':
        return { state };
      case 'waiting':
      case 'waiting-children':
      case 'prioritized':
        return { state: 'waiting' };
      case 'unknown':
        return { state: 'missing' };
    }
  }

  /**
   * Fails a job that outlived its deadline (its worker died, or it hangs): moved to failed without
   * retries, whoever holds its lock, so its intent can be requested again. False when it already
   * ended or is gone.
   */
  async failOverdue(jobId: string, error: ErrorInfo): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) {
      return false;
    }
    const state = await job.getState();
    if (state === 'active') {
      // Token "0" skips BullMQ's lock check: the worker that held it is presumed dead. Unrecoverable,
      // so no retry is scheduled.
      await job.moveToFailed(new UnrecoverableError(encodeJobError(error)), '0');
      return true;
    }
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      // Never started (no supervisor took it): removing it frees its deduplication id too.
      await job.remove();
      return true;
    }
    return false;
  }

  /** Cancels a job that is still waiting. */
  async cancel(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job || !((await job.isWaiting()) || (await job.isDelayed()))) {
      return false;
    }
    await job.remove();
    return true;
  }

  private emit(update: JobUpdate): void {
    this.onUpdate(update);
  }

  async close(): Promise<void> {
    await this.events.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const c of this.connections) {
      c.disconnect();
    }
  }
}

/** QueueEvents hands the return value as JSON text. */
function parseResult(value: unknown): unknown {
  if (typeof value !== 'string') {
    return value;
  }
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
