import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { NOTIFY_QUEUE, NotifyJobSchema, QUEUE_PREFIX, type NotifyJob } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** Exponential backoff: the wait after attempt n is backoffMs * 2^(n-1). */
  backoffMs: number;
}

/** Which attempt this is, so the processor can tell the last one. */
export interface AttemptInfo {
  attempt: number;
  maxAttempts: number;
}

/** Thrown by a processor for a failure no retry can fix: the job fails at once. */
export class PermanentFailure extends Error {}

/**
 * The notifications queue (BullMQ), separate from the control queues: one job per notification
 * and channel, with a deterministic job id (a second add of the same notification is a no-op),
 * retried with exponential backoff. Every gateway replica runs a worker; BullMQ hands each job to
 * one of them.
 */
export class NotificationQueue {
  private readonly queue: Queue;
  private readonly connections: Redis[] = [];
  private worker: Worker | null = null;
  private readonly redisUrl: string;
  private readonly retry: RetryPolicy;
  private readonly log: Logger;

  constructor(redisUrl: string, retry: RetryPolicy, logger: Logger) {
    this.redisUrl = redisUrl;
    this.retry = retry;
    this.log = logger.child({ module: 'notification-queue' });
    const producer = this.connection({ maxRetriesPerRequest: 1 });
    this.queue = new Queue(NOTIFY_QUEUE, { connection: producer, prefix: QUEUE_PREFIX });
    this.queue.on('error', (err) => this.log.warn('queue error', { error: err.message }));
  }

  /** Queues one delivery as job `jobId` (idempotent). */
  async add(job: NotifyJob, jobId: string): Promise<void> {
    await this.queue.add('deliver', job, {
      jobId,
      attempts: this.retry.attempts,
      backoff: { type: 'exponential', delay: this.retry.backoffMs },
      removeOnComplete: { count: 1000, age: 24 * 3600 },
      removeOnFail: { count: 1000, age: 7 * 24 * 3600 },
    });
  }

  /** Starts this replica's worker. `process` throws to fail an attempt (PermanentFailure: no retry). */
  start(process: (job: NotifyJob, attempt: AttemptInfo) => Promise<void>, concurrency = 4): void {
    const worker = new Worker(
      NOTIFY_QUEUE,
      async (job: Job) => {
        const parsed = NotifyJobSchema.safeParse(job.data);
        if (!parsed.success) {
          throw new UnrecoverableError('invalid notification job');
        }
        try {
          await process(parsed.data, { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? 1 });
        } catch (err) {
          throw err instanceof PermanentFailure ? new UnrecoverableError(err.message) : err;
        }
      },
      { connection: this.connection({ maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX, concurrency },
    );
    worker.on('error', (err) => this.log.warn('worker error', { error: err.message }));
    this.worker = worker;
  }

  async close(): Promise<void> {
    await this.worker?.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const c of this.connections) {
      c.disconnect();
    }
  }

  private connection(options: { maxRetriesPerRequest: number | null }): Redis {
    const c = new Redis(this.redisUrl, options);
    c.on('error', () => undefined);
    this.connections.push(c);
    return c;
  }
}
