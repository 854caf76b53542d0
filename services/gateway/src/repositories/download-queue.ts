import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import {
  AppError,
  decodeJobError,
  DOWNLOAD_JOB,
  DOWNLOAD_RETENTION,
  downloadCancelKey,
  downloadQueueName,
  DownloadProgressSchema,
  DownloadResultSchema,
  DownloadState,
  ErrorCode,
  QUEUE_PREFIX,
  type DownloadPayload,
  type DownloadView,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import { requireWorkers } from './queue-workers.js';

/** Attempts of a download (network breaks resume from the partial files), with exponential backoff. */
export const DOWNLOAD_RETRY = { attempts: 3, backoffMs: 5000 } as const;

/**
 * The producer side of a node's downloads queue (BullMQ): adds downloads, reads them back as the
 * dashboard shows them, cancels them (a waiting one is removed; a running one is asked to stop
 * through a Redis key its worker checks), and follows the queue's events.
 */
export class DownloadQueue {
  readonly nodeId: string;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly producer: Redis;
  private readonly connections: Redis[];
  private readonly log: Logger;

  constructor(redisUrl: string, nodeId: string, logger: Logger) {
    this.nodeId = nodeId;
    this.log = logger.child({ module: 'download-queue' });
    this.producer = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    const listener = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.connections = [this.producer, listener];
    for (const c of this.connections) {
      c.on('error', () => undefined);
    }
    const name = downloadQueueName(nodeId);
    this.queue = new Queue(name, { connection: this.producer, prefix: QUEUE_PREFIX });
    this.queue.on('error', (err) => this.log.warn('queue error', { error: err.message }));
    this.events = new QueueEvents(name, { connection: listener, prefix: QUEUE_PREFIX });
    this.events.on('error', (err) => this.log.warn('queue events error', { error: err.message }));
  }

  /**
   * Follows every download's events (whichever replica queued it): `onEvent(jobId, kind)` for
   * added, active, progress, completed, failed, retrying (delayed) and removed jobs.
   */
  async init(onEvent: (jobId: string, kind: string) => void): Promise<void> {
    for (const kind of ['waiting', 'active', 'progress', 'completed', 'failed', 'delayed', 'removed'] as const) {
      this.events.on(kind, ({ jobId }: { jobId: string }) => onEvent(jobId, kind));
    }
    await this.events.waitUntilReady().catch(() => undefined);
  }

  /**
   * Queues a download as `jobId`. The same model name still waiting or running is one download
   * (BullMQ deduplication): the answer then names that one. Throws QUEUE_UNAVAILABLE when Redis
   * is down, SUPERVISOR_UNAVAILABLE when no supervisor takes downloads.
   */
  async add(payload: DownloadPayload, jobId: string): Promise<DownloadView> {
    await requireWorkers(this.queue, `no supervisor takes downloads for node "${this.nodeId}"`);
    let job: Job;
    try {
      job = await this.queue.add(DOWNLOAD_JOB, payload, {
        jobId,
        deduplication: { id: `download-${payload.name}` },
        attempts: DOWNLOAD_RETRY.attempts,
        backoff: { type: 'exponential', delay: DOWNLOAD_RETRY.backoffMs },
        removeOnComplete: DOWNLOAD_RETENTION.completed,
        removeOnFail: DOWNLOAD_RETENTION.failed,
      });
    } catch (err) {
      throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'the job queue (Redis) is unavailable', { cause: err });
    }
    return (await this.get(job.id ?? jobId)) ?? this.view(job, 'waiting');
  }

  /** A download as the dashboard shows it; null when the queue no longer has it. */
  async get(jobId: string): Promise<DownloadView | null> {
    // The state first, then the job: the job read after it is at least as new (a job read first
    // could end in between, and show `failed` without its reason).
    const state = await this.queue.getJobState(jobId);
    const job = await this.queue.getJob(jobId);
    return job ? this.view(job, state) : null;
  }

  /** Running and queued downloads first, then the finished ones the queue keeps, newest first. */
  async list(limit = 100): Promise<DownloadView[]> {
    const jobs = await this.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'completed', 'failed'], 0, limit - 1);
    const views = (await Promise.all(jobs.map(async (job) => (job.id === undefined ? null : this.get(job.id))))).filter((v): v is DownloadView => v !== null);
    const rank = (v: DownloadView): number => (v.state === DownloadState.active ? 0 : v.state === DownloadState.queued ? 1 : 2);
    return views.sort((a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt);
  }

  /**
   * Cancels a download: a queued one is removed at once (state `cancelled`), a running one is
   * asked to stop (its worker fails it with JOB_CANCELLED and removes its partial files).
   * Throws DOWNLOAD_NOT_FOUND for an unknown id; a finished download is answered as it is.
   */
  async cancel(jobId: string): Promise<DownloadView> {
    const job = await this.queue.getJob(jobId);
    if (!job) {
      throw new AppError(ErrorCode.DOWNLOAD_NOT_FOUND, `no download "${jobId}"`);
    }
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') {
      return this.view(job, state);
    }
    await this.producer.set(downloadCancelKey(jobId), '1', 'EX', 7 * 86_400);
    if (state === 'waiting' || state === 'delayed' || state === 'prioritized') {
      const view = this.view(job, state);
      await job.remove().catch(() => undefined);
      return { ...view, state: DownloadState.cancelled, error: { code: ErrorCode.JOB_CANCELLED, message: 'the download was cancelled' }, finishedAt: Date.now() };
    }
    return this.view(job, state);
  }

  private view(job: Job, state: string): DownloadView {
    const payload = job.data as Partial<DownloadPayload>;
    const progress = DownloadProgressSchema.safeParse(job.progress);
    const result = DownloadResultSchema.safeParse(job.returnvalue);
    const error = state === 'failed' ? decodeJobError(job.failedReason) : null;
    let viewState: DownloadView['state'];
    switch (state) {
      case 'active':
        viewState = DownloadState.active;
        break;
      case 'completed':
        viewState = DownloadState.completed;
        break;
      case 'failed':
        viewState = error?.code === ErrorCode.JOB_CANCELLED ? DownloadState.cancelled : DownloadState.failed;
        break;
      default:
        viewState = DownloadState.queued;
    }
    // A retry after a network break waits (delayed) with the last error in failedReason.
    const lastError = state === 'delayed' && job.failedReason ? decodeJobError(job.failedReason) : null;
    return {
      id: job.id ?? '',
      nodeId: this.nodeId,
      repo: payload.repo ?? '',
      files: payload.files ?? [],
      name: payload.name ?? '',
      state: viewState,
      progress: progress.success ? progress.data : null,
      result: state === 'completed' && result.success ? result.data : null,
      error: error ?? lastError,
      createdAt: job.timestamp,
      finishedAt: state === 'completed' || state === 'failed' ? (job.finishedOn ?? null) : null,
    };
  }

  async close(): Promise<void> {
    await this.events.close().catch(() => undefined);
    await this.queue.close().catch(() => undefined);
    for (const c of this.connections) {
      c.disconnect();
    }
  }
}
