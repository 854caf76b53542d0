import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError, ErrorCode, type MemoryReport, type PlacementSettings, type PlacementSettingsDoc } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { openDatabase, type Db } from '../db/database.js';
import type { JobOutcome } from '../repositories/job.repository.js';
import { PlacementSettingsRepository } from '../repositories/placement-settings.repository.js';
import { StateRepository } from '../repositories/state.repository.js';
import { LastUsedFeed } from './last-used-feed.js';
import { MemoryReports } from './memory-reports.js';
import { OnDemandLoad } from './on-demand-load.js';
import { ApiError } from './openai-proxy.service.js';
import { PlacementSettingsService } from './placement-settings.service.js';

const logger = createLogger({ service: 'test', level: 'error' });

let dir: string;
let db: Db;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-placement-'));
  db = openDatabase(join(dir, 'test.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
  vi.useRealTimers();
});

describe(PlacementSettingsService.name, () => {
  const build = () => {
    const shared: PlacementSettings[] = [];
    const broadcast: PlacementSettingsDoc[] = [];
    const sut = new PlacementSettingsService({
      repo: new PlacementSettingsRepository(db),
      state: new StateRepository(db),
      share: async (s) => void shared.push(s),
      broadcast: async (d) => void broadcast.push(d),
      logger,
    });
    return { sut, shared, broadcast };
  };

  it('starts with the defaults at revision 0', () => {
    expect(build().sut.current()).toEqual({ settings: { defaultTtlSeconds: 0, models: {} }, revision: 0 });
  });

  it('stores, shares and broadcasts a change; a model set back to the defaults leaves the document', async () => {
    const { sut, shared, broadcast } = build();
    const first = await sut.update({ revision: 0, defaultTtlSeconds: 600, models: { big: { pinned: true, ttlSeconds: null, loadOnStartup: true }, small: { pinned: false, ttlSeconds: 30, loadOnStartup: false } } });
    expect(first).toEqual({
      revision: 1,
      settings: { defaultTtlSeconds: 600, models: { big: { pinned: true, ttlSeconds: null, loadOnStartup: true }, small: { pinned: false, ttlSeconds: 30, loadOnStartup: false } } },
    });
    expect(shared).toEqual([first.settings]);
    expect(broadcast).toEqual([first]);
    const second = await sut.update({ revision: 1, models: { small: null, big: { pinned: false, ttlSeconds: null, loadOnStartup: false } } });
    expect(second).toEqual({ revision: 2, settings: { defaultTtlSeconds: 600, models: {} } });
    // A new service over the same file reads what was stored (another replica, a restart).
    expect(build().sut.current()).toEqual(second);
  });

  it('refuses a stale revision with CONFLICT and the current document, writing nothing', async () => {
    const { sut, shared } = build();
    await sut.update({ revision: 0, defaultTtlSeconds: 60 });
    const err = await sut.update({ revision: 0, defaultTtlSeconds: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(ErrorCode.CONFLICT);
    expect((err as AppError).current).toEqual({ document: 'placement', revision: 1, value: { defaultTtlSeconds: 60, models: {} } });
    expect(sut.current().settings.defaultTtlSeconds).toBe(60);
    expect(shared).toHaveLength(1);
  });

  it('keeps a change when Redis cannot take it (shared again at the next start)', async () => {
    const sut = new PlacementSettingsService({
      repo: new PlacementSettingsRepository(db),
      state: new StateRepository(db),
      share: () => Promise.reject(new Error('redis down')),
      broadcast: async () => undefined,
      logger,
    });
    await expect(sut.update({ revision: 0, defaultTtlSeconds: 120 })).resolves.toMatchObject({ revision: 1 });
    expect(sut.current().settings.defaultTtlSeconds).toBe(120);
  });
});

describe(LastUsedFeed.name, () => {
  it('writes at once, then at most once per interval with the newest use, per model', async () => {
    vi.useFakeTimers({ now: 10_000 });
    const writes: [string, number][] = [];
    const sut = new LastUsedFeed({ write: async (m, at) => void writes.push([m, at]), intervalMs: 1000, logger });
    sut.touch('a');
    sut.touch('b');
    vi.advanceTimersByTime(200);
    sut.touch('a');
    vi.advanceTimersByTime(300);
    sut.touch('a');
    expect(writes).toEqual([['a', 10_000], ['b', 10_000]]);
    vi.advanceTimersByTime(500);
    // The trailing write carries the newest use (10 500), not the first one inside the interval.
    expect(writes).toEqual([['a', 10_000], ['b', 10_000], ['a', 10_500]]);
    vi.advanceTimersByTime(5000);
    expect(writes).toHaveLength(3);
    sut.close();
  });

  it('never throws when a write fails, and writes again on the next use', async () => {
    vi.useFakeTimers({ now: 0 });
    let calls = 0;
    const sut = new LastUsedFeed({ write: () => (calls++, Promise.reject(new Error('redis down'))), intervalMs: 1000, logger });
    expect(() => sut.touch('a')).not.toThrow();
    vi.advanceTimersByTime(1000);
    sut.touch('a');
    expect(calls).toBe(2);
    await Promise.resolve();
  });
});

describe(MemoryReports.name, () => {
  const report = (sentAt: number, freeBytes: number): MemoryReport => ({
    nodeId: 'n1',
    mode: 'memory',
    sentAt,
    devices: [{ id: 'cpu', kind: 'ram', name: 'RAM', totalBytes: 100, reserveBytes: 0, budgetBytes: 100, usedBytes: 100 - freeBytes, freeBytes }],
    models: [],
    footprints: [],
  });

  it('keeps the newest report per node; a heartbeat that only changes sentAt is no change', () => {
    const sut = new MemoryReports(new StateRepository(db));
    expect(sut.mode('n1')).toBeNull();
    expect(sut.store(report(1, 50))).toBe(true);
    expect(sut.store(report(2, 50))).toBe(false);
    expect(sut.store(report(3, 40))).toBe(true);
    expect(sut.store(report(2, 10))).toBe(false);
    expect(sut.all()).toEqual([report(3, 40)]);
    expect(new MemoryReports(new StateRepository(db)).mode('n1')).toBe('memory');
  });
});

describe(OnDemandLoad.name, () => {
  const build = (options: { mode?: 'memory' | 'count' | null; status?: string; freshStatus?: string; outcome?: JobOutcome } = {}) => {
    const submitted: string[] = [];
    const asked: ('fresh' | 'cached')[] = [];
    let release: (o: JobOutcome) => void = () => undefined;
    const sut = new OnDemandLoad({
      jobs: {
        submit: async (_name, payload) => {
          submitted.push((payload as { modelId: string }).modelId);
          return { jobId: `job-${submitted.length}`, name: 'model.load', subject: null, nodeId: 'n1', created: true } as never;
        },
        outcome: () => (options.outcome !== undefined ? Promise.resolve(options.outcome) : new Promise<JobOutcome>((r) => (release = r))),
      },
      mode: () => (options.mode === undefined ? 'memory' : options.mode),
      status: async (_modelId, fresh) => {
        asked.push(fresh ? 'fresh' : 'cached');
        return (fresh ? options.freshStatus : undefined) ?? options.status ?? 'unloaded';
      },
      waitMs: 1000,
      logger,
    });
    return { sut, submitted, asked, release: (o: JobOutcome) => release(o) };
  };

  it('lets the cached list vouch for a loaded model without asking the router', async () => {
    const { sut, submitted, asked } = build({ status: 'loaded' });
    await expect(sut.ensureLoadedCached('tiny')).resolves.toBe(true);
    expect(asked).toEqual(['cached']);
    expect(submitted).toEqual([]);
  });

  it('asks afresh when the cached list does not say loaded, and loads only when the fresh answer says so too', async () => {
    const loadedMeanwhile = build({ status: 'unloaded', freshStatus: 'loaded' });
    await expect(loadedMeanwhile.sut.ensureLoadedCached('tiny')).resolves.toBe(false);
    expect(loadedMeanwhile.asked).toEqual(['cached', 'fresh']);
    expect(loadedMeanwhile.submitted).toEqual([]);
    const unloaded = build({ status: 'unloaded', outcome: { state: 'completed', result: null } });
    await expect(unloaded.sut.ensureLoadedCached('tiny')).resolves.toBe(false);
    expect(unloaded.submitted).toEqual(['tiny']);
  });

  it('vouches for nothing in count mode (the router loads on its own)', async () => {
    const { sut, asked } = build({ mode: 'count', status: 'loaded' });
    await expect(sut.ensureLoadedCached('tiny')).resolves.toBe(false);
    expect(asked).toEqual([]);
  });

  it('loads a model that is not loaded, once for concurrent requests', async () => {
    const { sut, submitted, release } = build();
    const both = Promise.all([sut.ensureLoaded('tiny'), sut.ensureLoaded('tiny')]);
    await vi.waitFor(() => expect(sut.waiting()).toEqual(['tiny']));
    await vi.waitFor(() => expect(submitted).toEqual(['tiny']));
    release({ state: 'completed', result: null });
    await both;
    expect(submitted).toEqual(['tiny']);
    expect(sut.waiting()).toEqual([]);
  });

  it.each([
    ['a loaded model', { status: 'loaded' }],
    ['a sleeping model', { status: 'sleeping' }],
    ['count mode (the router loads on its own)', { mode: 'count' as const }],
  ])('does nothing for %s', async (_title, options) => {
    const { sut, submitted } = build(options);
    await sut.ensureLoaded('tiny');
    expect(submitted).toEqual([]);
  });

  it('before the node reports a mode, loads through the supervisor, and forwards as is when none takes the load', async () => {
    const { sut, submitted, release } = build({ mode: null });
    const loading = sut.ensureLoaded('tiny');
    await vi.waitFor(() => expect(submitted).toEqual(['tiny']));
    release({ state: 'completed', result: null });
    await loading;
    const none = build({ mode: null, outcome: { state: 'failed', error: { code: ErrorCode.SUPERVISOR_UNAVAILABLE, message: 'no supervisor is serving node "n1"' } } });
    await expect(none.sut.ensureLoaded('tiny')).resolves.toBeUndefined();
    const memory = build({ mode: 'memory', outcome: { state: 'failed', error: { code: ErrorCode.SUPERVISOR_UNAVAILABLE, message: 'no supervisor is serving node "n1"' } } });
    await expect(memory.sut.ensureLoaded('tiny')).rejects.toBeInstanceOf(ApiError);
  });

  it.each([
    [ErrorCode.INSUFFICIENT_MEMORY, 503, 'insufficient_memory'],
    [ErrorCode.TIMEOUT, 503, 'model_load_timeout'],
    [ErrorCode.SUPERVISOR_UNAVAILABLE, 503, 'service_unavailable'],
    [ErrorCode.MODEL_LOAD_FAILED, 500, 'model_load_failed'],
  ])('turns a failed load (%s) into %i %s with the cause', async (code, status, apiCode) => {
    const { sut } = build({ outcome: { state: 'failed', error: { code, message: 'tiny needs 2.0 GiB on cpu, 1.0 GiB free' } } });
    const err = (await sut.ensureLoaded('tiny').catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(status);
    expect(err.body().error).toMatchObject({ code: apiCode, message: expect.stringContaining('tiny needs 2.0 GiB on cpu, 1.0 GiB free') as string });
  });
});
