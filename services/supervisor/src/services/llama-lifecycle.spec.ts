import { AppError, ErrorCode, type LlamaStatus } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { backoffMs, LlamaLifecycle, type LaunchPlan } from './llama-lifecycle.js';
import { FakeProcess, FakeRouter, ManualClock, quietLogger, settle } from './test-support/fakes.js';

const BACKOFF = { minMs: 1_000, maxMs: 4_000 };
const START_TIMEOUT_MS = 5_000;

/** A lifecycle over fake processes and a fake router; `events` records what it told its collaborators. */
function subject() {
  const clock = new ManualClock();
  const router = new FakeRouter();
  const procs: FakeProcess[] = [];
  const events: string[] = [];
  const resets: AppError[] = [];
  const statuses: LlamaStatus[] = [];
  const state = {
    plan: async (): Promise<LaunchPlan> => ({ args: ['--port', '8080', '--api-key', 'sekret'], url: 'http://127.0.0.1:8080' }),
    outputLines: ['load_model: failed to open model file'],
  };
  const sut = new LlamaLifecycle(
    { nodeId: 'node-a', startTimeoutMs: START_TIMEOUT_MS, stopGraceMs: 500, backoff: BACKOFF },
    {
      plan: () => state.plan(),
      spawn: () => {
        const proc = new FakeProcess(100 + procs.length);
        procs.push(proc);
        events.push('spawn');
        return proc;
      },
      connect: () => router,
      output: { push: () => undefined, reset: () => events.push('output reset'), lines: (n) => state.outputLines.slice(-n) },
      sync: {
        follow: async () => {
          events.push('follow');
        },
        detach: () => events.push('detach'),
      },
      models: {
        routerStarted: () => events.push('router started'),
        resetAll: (err) => {
          events.push('models reset');
          resets.push(err as AppError);
        },
      },
      clock,
      logger: quietLogger(),
    },
  );
  sut.on('status', (status) => statuses.push(status));
  const proc = (): FakeProcess => {
    const last = procs.at(-1);
    if (last === undefined) {
      throw new Error('nothing was spawned');
    }
    return last;
  };
  return { sut, clock, router, procs, proc, events, resets, statuses, state };
}

describe(backoffMs.name, () => {
  it.each([
    [0, 1_000],
    [1, 2_000],
    [2, 4_000],
    [3, 4_000],
    [10, 4_000],
  ])('waits, after %i earlier crashes, %i ms', (crashes, expected) => {
    expect(backoffMs(BACKOFF, crashes)).toBe(expected);
  });
});

describe(LlamaLifecycle.name, () => {
  it('starts llama-server, waits for /health, then follows the router; secret values stay out of the status', async () => {
    const { sut, router, clock, events, statuses } = subject();
    router.healthy = false;
    const started = sut.start();
    await clock.advance(300);
    expect(statuses.map((s) => s.state)).toEqual(['starting']);
    router.healthy = true;
    await clock.advance(100);
    const status = await started;

    expect(status).toMatchObject({ state: 'running', pid: 100, url: 'http://127.0.0.1:8080' });
    expect(status.args).toEqual(['--port', '8080', '--api-key', expect.not.stringContaining('sekret')]);
    expect(events).toEqual(['output reset', 'router started', 'spawn', 'follow']);
    expect(sut.runningClient()).toBe(router);
  });

  it('answers a start of a running server at once, without a second process', async () => {
    const { sut, procs, statuses } = subject();
    await sut.start();
    const count = statuses.length;
    await expect(sut.start()).resolves.toMatchObject({ state: 'running' });
    expect(procs).toHaveLength(1);
    expect(statuses).toHaveLength(count);
  });

  it('refuses router calls unless llama-server is running', async () => {
    const { sut } = subject();
    expect(() => sut.runningClient()).toThrow(expect.objectContaining({ code: ErrorCode.LLAMA_NOT_RUNNING }) as Error);
    await sut.start();
    await sut.stop();
    expect(() => sut.runningClient()).toThrow(/llama-server is stopped/);
  });

  it('gives up on a server that does not answer within the start timeout, and stops it', async () => {
    const { sut, router, clock, proc, statuses } = subject();
    router.healthy = false;
    const started = sut.start();
    const outcome = expect(started).rejects.toMatchObject({ code: ErrorCode.LLAMA_START_FAILED, message: expect.stringMatching(/within 5000 ms/) as string });
    await clock.advance(START_TIMEOUT_MS + 200);
    await outcome;
    expect(proc().stops).toBe(1);
    expect(statuses.at(-1)?.state).toBe('failed');
    expect(clock.pending).toEqual([]);
  });

  it('explains a process that exits during start-up with its last error line, and does not restart it', async () => {
    const { sut, router, clock, proc, statuses } = subject();
    router.healthy = false;
    const started = sut.start();
    await settle();
    proc().crash({ code: 1, signal: null });
    const outcome = expect(started).rejects.toThrow('llama-server exited during start-up: load_model: failed to open model file');
    await clock.advance(100);
    await outcome;
    expect(statuses.at(-1)).toMatchObject({ state: 'failed', lastExit: { code: 1 } });
    expect(clock.pending).toEqual([]);
  });

  it('does not spawn when the launch plan is refused', async () => {
    const { sut, state, procs } = subject();
    state.plan = () => Promise.reject(new AppError(ErrorCode.ARG_NOT_ALLOWED, '--log-file is not allowed'));
    await expect(sut.start()).rejects.toMatchObject({ code: ErrorCode.ARG_NOT_ALLOWED });
    expect(procs).toHaveLength(0);
  });

  it('restarts after crashes with a backoff that doubles up to its cap', async () => {
    const { sut, clock, procs, proc, statuses } = subject();
    await sut.start();
    const waits: number[] = [];
    for (let crash = 0; crash < 4; crash++) {
      proc().crash();
      const crashed = statuses.at(-1);
      expect(crashed).toMatchObject({ state: 'crashed', restarts: crash + 1, lastExit: { signal: 'SIGKILL' } });
      waits.push((crashed?.nextRestartAt ?? 0) - clock.now());
      await clock.advance(waits.at(-1)! - 1);
      expect(procs).toHaveLength(crash + 1);
      await clock.advance(1);
      expect(procs).toHaveLength(crash + 2);
      expect(sut.status.state).toBe('running');
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 4_000]);
  });

  it('starts the backoff over after a process that ran long enough', async () => {
    const { sut, clock, proc, statuses } = subject();
    await sut.start();
    proc().crash();
    await clock.advance(1_000);
    proc().crash();
    expect(statuses.at(-1)?.nextRestartAt).toBe(clock.now() + 2_000);
    await clock.advance(2_000);
    await clock.advance(60_001);
    proc().crash();
    expect(statuses.at(-1)?.nextRestartAt).toBe(clock.now() + 1_000);
  });

  it('tells the models and the router sync when the process is gone', async () => {
    const { sut, proc, events, resets } = subject();
    await sut.start();
    events.length = 0;
    proc().crash();
    expect(events).toEqual(['detach', 'models reset']);
    expect(resets[0]?.code).toBe(ErrorCode.LLAMA_CRASHED);
  });

  it('retries a restart that fails with the next backoff', async () => {
    const { sut, clock, proc, procs, state, statuses } = subject();
    await sut.start();
    state.plan = () => Promise.reject(new AppError(ErrorCode.PRESET_INVALID, 'the preset file cannot be read'));
    proc().crash();
    await clock.advance(1_000);
    expect(statuses.at(-1)).toMatchObject({ state: 'crashed', nextRestartAt: clock.now() + 2_000 });
    await clock.advance(2_000);
    expect(statuses.at(-1)).toMatchObject({ state: 'crashed', nextRestartAt: clock.now() + 4_000 });
    expect(procs).toHaveLength(1);
  });

  it('stops: detaches first, then the process, then resets the models; no restart follows', async () => {
    const { sut, clock, proc, events, resets } = subject();
    await sut.start();
    events.length = 0;
    const status = await sut.stop();
    expect(status).toMatchObject({ state: 'stopped', pid: null, lastExit: { code: 0, logTail: ['load_model: failed to open model file'] } });
    expect(proc().stops).toBe(1);
    expect(events).toEqual(['detach', 'models reset']);
    expect(resets[0]?.code).toBe(ErrorCode.LLAMA_NOT_RUNNING);
    expect(clock.pending).toEqual([]);
  });

  it('cancels a scheduled restart when stopped during the backoff', async () => {
    const { sut, clock, proc, procs } = subject();
    await sut.start();
    proc().crash();
    await expect(sut.stop()).resolves.toMatchObject({ state: 'stopped', nextRestartAt: null });
    await clock.advance(10_000);
    expect(procs).toHaveLength(1);
  });

  it('runs start, stop and restart one at a time', async () => {
    const { sut, router, clock, statuses } = subject();
    router.healthy = false;
    const started = sut.start();
    const stopped = sut.stop();
    await clock.advance(500);
    expect(statuses.map((s) => s.state)).toEqual(['starting']);
    router.healthy = true;
    await clock.advance(100);
    await started;
    await stopped;
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'running', 'stopping', 'stopped']);
  });

  it('lets an exclusive caller stop and start under the lock', async () => {
    const { sut, procs } = subject();
    await sut.start();
    const seen = await sut.exclusive(async (steps) => {
      const before = steps.running;
      await steps.stop();
      const between = steps.running;
      await steps.start();
      return [before, between, steps.running];
    });
    expect(seen).toEqual([true, false, true]);
    expect(procs).toHaveLength(2);
  });

  it('after close, neither restarts a crashed server nor starts again', async () => {
    const { sut, clock, procs } = subject();
    await sut.start();
    await sut.close();
    await clock.advance(10_000);
    expect(procs).toHaveLength(1);
    await expect(sut.start()).rejects.toMatchObject({ code: ErrorCode.LLAMA_NOT_RUNNING });
  });
});
