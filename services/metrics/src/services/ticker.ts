/**
 * Runs `task` every `intervalMs`, on a fixed grid (no drift), never two at once: a tick that comes
 * while the previous one still runs is skipped. The interval can change at any time; the next tick
 * then comes one new interval after the last one started (or at once if that is already past).
 */
export class Ticker {
  private readonly task: (ts: number) => Promise<void>;
  private intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private lastStart = 0;
  private next = 0;
  private running: Promise<void> | null = null;
  private stopped = true;
  skipped = 0;

  constructor(intervalMs: number, task: (ts: number) => Promise<void>) {
    this.intervalMs = intervalMs;
    this.task = task;
  }

  get interval(): number {
    return this.intervalMs;
  }

  /** The first tick comes one interval from now. */
  start(now = Date.now()): void {
    this.stopped = false;
    this.lastStart = now;
    this.schedule(now + this.intervalMs);
  }

  setInterval(intervalMs: number): void {
    if (intervalMs === this.intervalMs) {
      return;
    }
    this.intervalMs = intervalMs;
    if (!this.stopped) {
      this.schedule(Math.max(Date.now(), this.lastStart + intervalMs));
    }
  }

  /** Stops ticking and waits for a running task to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    await this.running;
  }

  private schedule(at: number): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
    }
    this.next = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - Date.now()));
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) {
      return;
    }
    const now = Date.now();
    // Next slot on the grid after now; slots missed while a task ran are skipped.
    let next = this.next + this.intervalMs;
    if (next <= now) {
      const missed = Math.floor((now - this.next) / this.intervalMs);
      this.skipped += missed;
      next = this.next + (missed + 1) * this.intervalMs;
    }
    this.schedule(next);
    if (this.running !== null) {
      this.skipped++;
      return;
    }
    this.lastStart = now;
    // The task reports its own failures; a rejection must not stop the ticking.
    this.running = this.task(now)
      .catch(() => undefined)
      .finally(() => {
        this.running = null;
      });
  }
}
