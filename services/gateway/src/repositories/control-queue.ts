import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import {
  AppError,
  controlJobId,
  controlQueueName,
  decodeJobError,
  ErrorCode,
  JobProgressSchema,
  QUEUE_PREFIX,
  type ErrorInfo,
  type JobName,
  type JobPayloads,
  type JobProgress,
  type JobRef,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

export interface JobUpdate {
  job: JobRef;
  state: 'queued' | 'active' | 'progress' | 'completed' | 'failed';
  progress: JobProgress | null;
  error: ErrorInfo | null;
  result: unknown;
}

/**
 * The producer side of a supervisor node's control queue. Follows the jobs this replica queued
 * (and only those, so with several replicas each update is relayed once).
 */
export class ControlQueue {
  readonly nodeId: string;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly connections: Redis[];
  private readonly producer: Redis;
  private readonly mine = new Map<string, JobRef>();
  private readonly log: Logger;
  private onUpdate: (update: JobUpdate) => void = () => undefined;

  constructor(redisUrl: string, nodeId: string, logger: Logger) {
    this.nodeId = nodeId;
    this.log = logger.child({ module: 'control-queue' });
    // Fail fast when Redis is down: a request must get an error at once, never hang.
    const producer = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    const listener = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.producer = producer;
    this.connections = [producer, listener];
    for (const c of this.connections) {
      c.on('error', () => undefined);
    }
    const name = controlQueueName(nodeId);
    this.queue = new Queue(name, { connection: producer, prefix: QUEUE_PREFIX });
    this.queue.on('error', (err) => this.log.warn('queue error', { error: err.message }));
    this.events = new QueueEvents(name, { connection: listener, prefix: QUEUE_PREFIX });
    this.events.on('error', (err) => this.log.warn('queue events error', { error: err.message }));
    this.events.on('active', ({ jobId }) => this.relay(jobId, 'active', null, null, undefined));
    this.events.on('progress', ({ jobId, data }) => {
      const progress = JobProgressSchema.safeParse(data);
      this.relay(jobId, 'progress', progress.success ? progress.data : null, null, undefined);
    });
    this.events.on('completed', ({ jobId, returnvalue }) => this.relay(jobId, 'completed', null, null, returnvalue, true));
    this.events.on('failed', ({ jobId, failedReason }) => this.relay(jobId, 'failed', null, decodeJobError(failedReason), undefined, true));
  }

  async init(onUpdate: (update: JobUpdate) => void): Promise<void> {
    this.onUpdate = onUpdate;
    await this.events.waitUntilReady().catch(() => undefined);
  }

  /**
   * Queues a control job with its deterministic id. Fails at once with QUEUE_UNAVAILABLE when
   * Redis is down and SUPERVISOR_UNAVAILABLE when no supervisor consumes the queue.
   */
  async add<K extends JobName>(name: K, payload: JobPayloads[K]): Promise<JobRef> {
    const jobId = controlJobId(name, payload);
    let workers: number;
    try {
      workers = (await this.queue.getWorkers()).length;
    } catch (err) {
      throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'the job queue (Redis) is unavailable', { cause: err });
    }
    if (workers === 0) {
      throw new AppError(ErrorCode.SUPERVISOR_UNAVAILABLE, `no supervisor is serving node "${this.nodeId}"`);
    }
    // Two identical requests at the same moment (a double click, two replicas): only the one
    // that takes this short claim adds the job and follows it; the other reports it as pending.
    const subject = 'modelId' in payload ? payload.modelId : null;
    const claimKey = `${QUEUE_PREFIX}:intent:${this.nodeId}:${jobId}`;
    try {
      if ((await this.producer.set(claimKey, '1', 'PX', 10_000, 'NX')) !== 'OK') {
        return { jobId, name, subject, nodeId: this.nodeId, created: false };
      }
      try {
        const existing = await this.queue.getJob(jobId);
        if (existing) {
          return { jobId, name, subject, nodeId: this.nodeId, created: false };
        }
        const job = await this.queue.add(name, payload, { jobId, attempts: 1, removeOnComplete: true, removeOnFail: { count: 100 } });
        const ref: JobRef = { jobId: job.id ?? jobId, name, subject, nodeId: this.nodeId, created: true };
        this.mine.set(ref.jobId, ref);
        this.onUpdate({ job: ref, state: 'queued', progress: null, error: null, result: undefined });
        return ref;
      } finally {
        await this.producer.del(claimKey);
      }
    } catch (err) {
      throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'the job queue (Redis) is unavailable', { cause: err });
    }
  }

  /** Cancels a job that is still waiting. */
  async cancel(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job || !(await job.isWaiting() || await job.isDelayed())) {
      return false;
    }
    await job.remove();
    const ref = this.mine.get(jobId);
    if (ref) {
      this.relay(jobId, 'failed', null, { code: ErrorCode.JOB_CANCELLED, message: 'cancelled' }, undefined, true);
    }
    return true;
  }

  private relay(jobId: string, state: JobUpdate['state'], progress: JobProgress | null, error: ErrorInfo | null, result: unknown, final = false): void {
    const job = this.mine.get(jobId);
    if (!job) {
      return;
    }
    if (final) {
      this.mine.delete(jobId);
    }
    this.onUpdate({ job, state, progress, error, result: typeof result === 'string' ? safeJson(result) : result });
  }

  async close(): Promise<void> {
    await this.events.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const c of this.connections) {
      c.disconnect();
    }
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
