import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Ticker } from './ticker.js';

describe(Ticker.name, () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks on a fixed grid from the start', async () => {
    const ticks: number[] = [];
    const sut = new Ticker(1000, async (ts) => void ticks.push(ts));

    sut.start();
    await vi.advanceTimersByTimeAsync(3500);

    expect(ticks).toEqual([1000, 2000, 3000]);
    await sut.stop();
  });

  it('never runs two tasks at once: a tick during a slow task is skipped', async () => {
    const ticks: number[] = [];
    let release!: () => void;
    const sut = new Ticker(1000, (ts) => {
      ticks.push(ts);
      return ts === 1000 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
    });

    sut.start();
    await vi.advanceTimersByTimeAsync(2500);
    release();
    await vi.advanceTimersByTimeAsync(1000);

    expect(ticks).toEqual([1000, 3000]);
    expect(sut.skipped).toBe(1);
    await sut.stop();
  });

  it('re-times at once when the interval changes', async () => {
    const ticks: number[] = [];
    const sut = new Ticker(2000, async (ts) => void ticks.push(ts));
    sut.start();
    await vi.advanceTimersByTimeAsync(2100);

    sut.setInterval(500);
    await vi.advanceTimersByTimeAsync(1000);

    expect(sut.interval).toBe(500);
    expect(ticks).toEqual([2000, 2500, 3000]);
    await sut.stop();
  });

  it('keeps ticking after a task fails, and stops for good', async () => {
    let calls = 0;
    const sut = new Ticker(1000, async () => {
      calls++;
      throw new Error('boom');
    });
    sut.start();
    await vi.advanceTimersByTimeAsync(2000);

    await sut.stop();
    await vi.advanceTimersByTimeAsync(5000);

    expect(calls).toBe(2);
  });
});
