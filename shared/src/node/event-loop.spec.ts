import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import Transport from 'winston-transport';
import { watchEventLoop } from './event-loop.js';
import { createLogger } from './logger.js';

interface Captured {
  level: string;
  message: string;
  maxMs?: number;
  p99Ms?: number;
}

/** A winston transport that keeps every line it is given. */
class CapturingTransport extends Transport {
  readonly lines: Captured[] = [];

  override log(info: Captured, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

/** Blocks the event loop for `ms` milliseconds. */
function busyWait(ms: number): void {
  const started = performance.now();
  while (performance.now() - started < ms) {
    // spin
  }
}

describe(watchEventLoop.name, () => {
  let stop: (() => void) | null = null;
  afterEach(() => stop?.());

  it('logs one "event loop stalled" warning, with maxMs and p99Ms, for one 300 ms synchronous stall', async () => {
    const transport = new CapturingTransport();
    const logger = createLogger({ service: 'test', level: 'debug', format: 'json' });
    logger.clear().add(transport);
    const intervalMs = 200;
    // 150 ms rather than the default 100 so that a scheduling hiccup of a busy test machine is not
    // taken for the stall under test; the stall is twice that.
    stop = watchEventLoop(logger, { thresholdMs: 150, intervalMs });
    // Let the histogram take a few samples first.
    await sleep(50);
    busyWait(300);

    const stalled = (): Captured[] => transport.lines.filter((l) => l.message === 'event loop stalled');
    await vi.waitFor(() => expect(stalled()).not.toEqual([]), { timeout: 5000, interval: 20 });
    // A stall is one sample: no later check may report it again. Watch three more checks.
    await sleep(3 * intervalMs);

    const lines = stalled();
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line.level).toBe('warn');
    expect(line.maxMs).toBeGreaterThanOrEqual(250);
    expect(line.p99Ms).toEqual(expect.any(Number));
  });

  it('logs nothing once stopped', async () => {
    const transport = new CapturingTransport();
    const logger = createLogger({ service: 'test', level: 'debug', format: 'json' });
    logger.clear().add(transport);
    const intervalMs = 50;
    stop = watchEventLoop(logger, { thresholdMs: 150, intervalMs });
    stop();
    busyWait(300);
    // Absence: watch for several of the intervals at which a running watchdog would have reported.
    await sleep(4 * intervalMs);
    expect(transport.lines.filter((l) => l.message === 'event loop stalled')).toEqual([]);
  });
});
