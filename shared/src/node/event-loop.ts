import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger } from './logger.js';

export interface EventLoopWatchOptions {
  /** A check that sees a delay above this many milliseconds logs one warning. Default 100. */
  thresholdMs?: number;
  /** Milliseconds between checks. Default 1000. */
  intervalMs?: number;
}

/** Sampling period of the delay histogram (ms): fine enough for a 100 ms threshold, and cheap. */
const RESOLUTION_MS = 10;

/** The details of one `event loop stalled` line, in milliseconds rounded to 0.1 ms. */
export interface EventLoopStall {
  /**
   * The longest delay seen: the largest gap between two histogram samples (it includes the 10 ms
   * sampling period), or how late the check itself ran, whichever is larger.
   */
  maxMs: number;
  /** 99th percentile of the sampled gaps since the previous report (or since the start). */
  p99Ms: number;
}

/**
 * Watches the event loop with `perf_hooks.monitorEventLoopDelay` (10 ms resolution). Every
 * `intervalMs`, when the longest delay since the last report exceeded `thresholdMs`, logs ONE warn
 * line `event loop stalled` with `EventLoopStall` and resets the histogram. The timer is unref'd:
 * it never keeps a process alive. Returns an idempotent stop function.
 *
 * Why the histogram is reset only after a report, and why the check also measures its own lateness:
 * `reset()` forgets the previous sample's time, so the first gap after a reset is never recorded.
 * A stall that ends just before a check runs (the check and the histogram's timer both overdue, the
 * check first) would be lost, and so would a stall that starts right after a reset. Not resetting
 * while nothing was reported removes the first case when the loop was healthy, and the check's own
 * lateness (it was held up by the same stall) covers the rest. What is still missed: a second stall
 * that starts within ~10 ms after a reported one; the first is reported.
 */
export function watchEventLoop(logger: Logger, options: EventLoopWatchOptions = {}): () => void {
  const { thresholdMs = 100, intervalMs = 1000 } = options;
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  let lastCheck = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const lateMs = now - lastCheck - intervalMs;
    lastCheck = now;
    // Histogram values are nanoseconds; max is 0 while nothing is recorded.
    const maxMs = Math.max(histogram.max / 1e6, lateMs);
    if (maxMs <= thresholdMs) {
      return;
    }
    const stall: EventLoopStall = { maxMs: round(maxMs), p99Ms: round(histogram.percentile(99) / 1e6) };
    histogram.reset();
    logger.warn('event loop stalled', stall);
  }, intervalMs);
  timer.unref();
  let stopped = false;
  return () => {
    if (!stopped) {
      stopped = true;
      clearInterval(timer);
      histogram.disable();
    }
  };
}
