import type { ActivityRecord } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { ApiActivityRepository } from '../repositories/api-activity.repository.js';

/** At most this many records wait; beyond, the oldest are dropped (and counted in the log). */
const MAX_QUEUED = 50_000;

/**
 * Stores `/v1` activity records in batches: `add` only queues (the streaming path never waits on
 * SQLite); a timer writes what has gathered in one transaction, together with the keys'
 * last-used times, then hands the stored records on (the live Activity push, activity-feed.ts). A failed write is logged and the batch dropped: activity is an account of
 * traffic, never a reason to fail it.
 */
export class ApiActivityWriter {
  private queue: Omit<ActivityRecord, 'id'>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private dropped = 0;
  private readonly repo: Pick<ApiActivityRepository, 'insertMany'>;
  private readonly afterFlush: (stored: ActivityRecord[]) => void;
  private readonly log: Logger;
  private readonly intervalMs: number;

  /** `afterFlush` gets what each write stored (with ids, oldest first; empty when nothing was queued). */
  constructor(deps: { repo: Pick<ApiActivityRepository, 'insertMany'>; afterFlush?: (stored: ActivityRecord[]) => void; logger: Logger; intervalMs?: number }) {
    this.repo = deps.repo;
    this.afterFlush = deps.afterFlush ?? (() => undefined);
    this.log = deps.logger.child({ module: 'api-activity' });
    this.intervalMs = deps.intervalMs ?? 250;
  }

  add(record: Omit<ActivityRecord, 'id'>): void {
    if (this.queue.length >= MAX_QUEUED) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(record);
    if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes everything queued now (also at shutdown). */
  flush(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.queue;
    this.queue = [];
    try {
      this.afterFlush(batch.length > 0 ? this.repo.insertMany(batch) : []);
    } catch (err) {
      this.log.warn('activity batch not stored', { records: batch.length, error: (err as Error).message });
    }
    if (this.dropped > 0) {
      this.log.warn('activity records dropped: the database could not keep up', { dropped: this.dropped });
      this.dropped = 0;
    }
  }
}
