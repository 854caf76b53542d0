import type { LogRecord } from '@llamaproxy/shared';

/**
 * Collects log records and flushes them in batches: every `intervalMs`, or at once when
 * `maxBatch` records are waiting. A failed flush keeps the records (bounded) for the next try.
 */
export class LogBatcher {
  private readonly flushFn: (records: LogRecord[]) => Promise<void>;
  private readonly intervalMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;
  private buffer: LogRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  dropped = 0;

  constructor(flush: (records: LogRecord[]) => Promise<void>, options: { intervalMs: number; maxBatch?: number; maxBuffered?: number }) {
    this.flushFn = flush;
    this.intervalMs = options.intervalMs;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxBuffered = options.maxBuffered ?? 20_000;
  }

  add(record: LogRecord): void {
    this.buffer.push(record);
    if (this.buffer.length > this.maxBuffered) {
      const excess = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.maxBatch) {
      void this.flush();
    } else {
      this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
    }
  }

  /** Sends everything buffered; resolves when it has been handed over (or failed). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.flushing = this.flushing.then(async () => {
      while (this.buffer.length > 0) {
        const batch = this.buffer.slice(0, this.maxBatch);
        try {
          await this.flushFn(batch);
          this.buffer.splice(0, batch.length);
        } catch {
          // Keep the records; retry on the next tick.
          this.timer ??= setTimeout(() => void this.flush(), Math.max(this.intervalMs, 1000));
          return;
        }
      }
    });
    return this.flushing;
  }
}
