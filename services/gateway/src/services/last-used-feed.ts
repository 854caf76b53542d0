import { LAST_USED_WRITE_INTERVAL_MS } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

export interface LastUsedFeedDeps {
  /** Raises the model's last-used time in Redis (PlacementRedis.raiseLastUsed). */
  write: (modelId: string, atMs: number) => Promise<unknown>;
  now?: () => number;
  /** Least time between two writes for one model (ms); LAST_USED_WRITE_INTERVAL_MS by default. */
  intervalMs?: number;
  logger: Logger;
}

interface ModelFeed {
  /** When the last write was started (ms). */
  writtenAt: number;
  /** A use seen during the interval, written when it ends; null when none. */
  pendingAt: number | null;
  timer: NodeJS.Timeout | null;
}

/**
 * The recency feed of placement (issue #14): every real `/v1` request marks its model as used.
 * Writes are throttled to one per model per interval (a use inside the interval is written when
 * it ends, so the newest use is never lost), fire and forget: a request never waits for Redis,
 * and a failed write is only logged (the next use writes again).
 */
export class LastUsedFeed {
  private readonly deps: LastUsedFeedDeps;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly models = new Map<string, ModelFeed>();
  private readonly log: Logger;

  constructor(deps: LastUsedFeedDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.intervalMs = deps.intervalMs ?? LAST_USED_WRITE_INTERVAL_MS;
    this.log = deps.logger.child({ module: 'last-used' });
  }

  /** Marks `modelId` as used now. Returns at once. */
  touch(modelId: string): void {
    const now = this.now();
    const feed = this.models.get(modelId);
    if (feed === undefined || now - feed.writtenAt >= this.intervalMs) {
      if (feed !== undefined && feed.timer !== null) {
        clearTimeout(feed.timer);
      }
      this.models.set(modelId, { writtenAt: now, pendingAt: null, timer: null });
      this.write(modelId, now);
      return;
    }
    feed.pendingAt = now;
    if (feed.timer === null) {
      feed.timer = setTimeout(() => this.flush(modelId), Math.max(0, feed.writtenAt + this.intervalMs - now));
      feed.timer.unref();
    }
  }

  /** Stops the timers, writing what is pending (shutdown). */
  close(): void {
    for (const modelId of [...this.models.keys()]) {
      this.flush(modelId);
    }
    this.models.clear();
  }

  private flush(modelId: string): void {
    const feed = this.models.get(modelId);
    if (feed === undefined) {
      return;
    }
    if (feed.timer !== null) {
      clearTimeout(feed.timer);
      feed.timer = null;
    }
    if (feed.pendingAt !== null) {
      const at = feed.pendingAt;
      feed.pendingAt = null;
      feed.writtenAt = this.now();
      this.write(modelId, at);
    }
  }

  private write(modelId: string, atMs: number): void {
    this.deps.write(modelId, atMs).catch((err: unknown) => this.log.debug('last-used write failed', { modelId, error: (err as Error).message }));
  }
}
