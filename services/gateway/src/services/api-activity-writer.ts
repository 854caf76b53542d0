import type { ActivityRecord } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { ApiActivityRepository } from '../repositories/api-activity.repository.js';
import type { CaptureInput, CaptureRepository } from '../repositories/capture.repository.js';

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
  /** The captured sides of queued records, by their index in `queue` (capture buffer on). */
  private captured = new Map<number, CaptureInput>();
  private timer: NodeJS.Timeout | null = null;
  private dropped = 0;
  private readonly repo: Pick<ApiActivityRepository, 'insertMany'>;
  private readonly captures: Pick<CaptureRepository, 'store'> | null;
  private readonly afterFlush: (stored: ActivityRecord[]) => void;
  private readonly log: Logger;
  private readonly intervalMs: number;

  /** `afterFlush` gets what each write stored (with ids, oldest first; empty when nothing was queued). */
  constructor(deps: {
    repo: Pick<ApiActivityRepository, 'insertMany'>;
    captures?: Pick<CaptureRepository, 'store'>;
    afterFlush?: (stored: ActivityRecord[]) => void;
    logger: Logger;
    intervalMs?: number;
  }) {
    this.repo = deps.repo;
    this.captures = deps.captures ?? null;
    this.afterFlush = deps.afterFlush ?? (() => undefined);
    this.log = deps.logger.child({ module: 'api-activity' });
    this.intervalMs = deps.intervalMs ?? 250;
  }

  /** Queues a record, with its captured prompt and output when the capture buffer is on. */
  add(record: Omit<ActivityRecord, 'id'>, capture?: CaptureInput): void {
    if (this.queue.length >= MAX_QUEUED) {
      // Rare (the database is far behind): the oldest record goes, and any capture with it.
      this.queue.shift();
      this.captured = new Map([...this.captured].filter(([i]) => i > 0).map(([i, c]) => [i - 1, c]));
      this.dropped++;
    }
    if (capture !== undefined) {
      this.captured.set(this.queue.length, capture);
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
    const captured = this.captured;
    this.queue = [];
    this.captured = new Map();
    try {
      const stored = batch.length > 0 ? this.repo.insertMany(batch) : [];
      if (this.captures !== null && captured.size > 0) {
        this.captures.store([...captured].map(([i, capture]) => ({ activityId: stored[i]!.id, ts: stored[i]!.ts, capture })));
      }
      this.afterFlush(stored);
    } catch (err) {
      this.log.warn('activity batch not stored', { records: batch.length, error: (err as Error).message });
    }
    if (this.dropped > 0) {
      this.log.warn('activity records dropped: the database could not keep up', { dropped: this.dropped });
      this.dropped = 0;
    }
  }
}
