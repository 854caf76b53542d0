import { describe, expect, it } from 'vitest';
import { AppError, type LlamaStatus, type MemoryReport, type PlacementMode, type PlacementSettings } from '@llamaproxy/shared';
import { ModelStates } from '../model-states.js';
import { FakeRouter, ManualClock, quietLogger, settle } from '../test-support/fakes.js';
import { PROCESS_OVERHEAD_BYTES, type ModelShape } from './footprint-estimator.js';
import { PlacementService, type StoredFootprints } from './placement-service.js';

const MiB = 1024 * 1024;

/** A shape whose CPU estimate is exactly `mib` MiB (all of it host weights, no compute buffers). */
function shapeOf(mib: number): ModelShape {
  return {
    layerCount: 0,
    contextLength: 0,
    embeddingLength: 0,
    feedForwardLength: 0,
    vocabSize: 0,
    headCount: 0,
    headCountKv: 0,
    keyLength: 0,
    valueLength: 0,
    layerBytes: [],
    outputBytes: 0,
    hostBytes: mib * MiB - PROCESS_OVERHEAD_BYTES,
  };
}

function setup(options: { mode?: PlacementMode; budgetMiB?: number; sizes: Record<string, number>; settings?: PlacementSettings; settingsStored?: boolean; lastUsed?: Record<string, number> }) {
  const clock = new ManualClock();
  const router = new FakeRouter();
  const models = new ModelStates(() => ({ message: 'failed', logTail: [] }));
  const unloads: string[] = [];
  const saved: StoredFootprints[] = [];
  const reports: MemoryReport[] = [];
  const loads: string[] = [];
  let notify: (settings: PlacementSettings, stored: boolean) => void = () => undefined;
  const lastUsed = new Map(Object.entries(options.lastUsed ?? {}));
  const status = { state: 'running', pid: 4242 } as LlamaStatus;
  const setLoaded = (ids: string[]): void => {
    router.models = Object.keys(options.sizes).map((id) => ({ id, status: { value: ids.includes(id) ? 'loaded' : 'unloaded' } }));
    models.reconcile(router.models);
  };
  const sut = new PlacementService(
    { nodeId: 'n', mode: options.mode ?? 'memory', ramBudgetBytes: (options.budgetMiB ?? 1000) * MiB, ramReserveBytes: 0, gpuReserveBytes: 0, inFlightWaitMs: 1000, idleCheckMs: 1000 },
    {
      models,
      router: { runningClient: () => router, status },
      memory: {
        ramTotalBytes: async () => 64 * 1024 * MiB,
        gpus: async () => [],
        gpuProcesses: async () => [],
        instancePid: async () => null,
        rssBytes: async () => null,
      },
      redis: {
        watchSettings: async (onChange) => {
          notify = onChange;
          onChange(options.settings ?? { defaultTtlSeconds: 0, models: {} }, options.settingsStored ?? true);
        },
        lastUsed: async () => lastUsed,
      },
      store: { read: async () => undefined, write: async (v) => void saved.push(v) },
      shape: async (id) => shapeOf(options.sizes[id] ?? 0),
      footprintSettings: async () => ({ ctxSize: 512, parallel: 1, cacheTypeK: 'f16', cacheTypeV: 'f16', gpuLayers: 'auto' }),
      unload: async (id) => {
        unloads.push(id);
        setLoaded((router.models.filter((m) => m.status.value === 'loaded').map((m) => m.id)).filter((m) => m !== id));
      },
      load: async (id) => void loads.push(id),
      clock,
      logger: quietLogger(),
    },
  );
  sut.on('report', (r) => reports.push(r));
  /** The gateway's settings arriving in Redis (a notice). */
  const settingsArrive = (settings: PlacementSettings): void => notify(settings, true);
  return { sut, clock, router, unloads, loads, reports, lastUsed, setLoaded, settingsArrive };
}

/** Loads `ids` as the router would, and lets placement learn their footprints. */
async function loadAll(t: ReturnType<typeof setup>, ids: string[]): Promise<void> {
  for (const id of ids) {
    await t.sut.footprintOf(id);
  }
  t.setLoaded(ids);
  await settle();
}

describe(PlacementService.name, () => {
  it('in count mode leaves the room to llama.cpp: nothing is evicted', async () => {
    const t = setup({ mode: 'count', budgetMiB: 100, sizes: { a: 80, b: 80 } });
    await t.sut.start();
    await loadAll(t, ['a']);
    const ticket = await t.sut.beforeLoad('b');
    ticket.settled();
    expect(t.unloads).toEqual([]);
  });

  it('evicts the least recently used by the gateway recency, not by load order', async () => {
    const t = setup({ budgetMiB: 250, sizes: { a: 100, b: 100, c: 100 } });
    await t.sut.start();
    await loadAll(t, ['a', 'b']);
    t.lastUsed.set('a', t.clock.now() + 2000);
    t.lastUsed.set('b', t.clock.now() + 1000);
    (await t.sut.beforeLoad('c')).settled();
    expect(t.unloads).toEqual(['b']);
  });

  it('counts a load in progress as used, so two loads at once do not both take the same room', async () => {
    const t = setup({ budgetMiB: 250, sizes: { a: 100, b: 100, c: 100 } });
    await t.sut.start();
    const first = await t.sut.beforeLoad('a');
    const second = await t.sut.beforeLoad('b');
    // a and b are still loading (reserved): c cannot evict them and does not fit.
    await expect(t.sut.beforeLoad('c')).rejects.toMatchObject({ code: 'INSUFFICIENT_MEMORY' });
    expect(t.sut.report().models.map((m) => [m.modelId, m.status])).toEqual([
      ['a', 'loading'],
      ['b', 'loading'],
    ]);
    first.settled();
    second.settled();
    expect(t.sut.report().models).toEqual([]);
  });

  it('refuses with INSUFFICIENT_MEMORY naming the pinned model, and evicts nothing', async () => {
    const t = setup({ budgetMiB: 150, sizes: { a: 100, b: 100 }, settings: { defaultTtlSeconds: 0, models: { a: { pinned: true, ttlSeconds: null, loadOnStartup: false } } } });
    await t.sut.start();
    await loadAll(t, ['a']);
    const err = await t.sut.beforeLoad('b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toBe('b needs 100 MiB on cpu, 50 MiB free of a 150 MiB budget; held by a (100 MiB, pinned)');
    expect(t.unloads).toEqual([]);
  });

  it('gives up on a model that stays busy beyond the wait, with the reason', async () => {
    const t = setup({ budgetMiB: 150, sizes: { a: 100, b: 100 } });
    await t.sut.start();
    await loadAll(t, ['a']);
    t.router.busy.set('a', 1);
    const result = t.sut.beforeLoad('b').catch((e: unknown) => e);
    await t.clock.advance(1500);
    expect(await result).toMatchObject({ code: 'INSUFFICIENT_MEMORY', message: 'b needs the memory of a, which is still serving 1 request(s) after 1 s' });
    expect(t.unloads).toEqual([]);
  });

  it('unloads an idle model after its TTL from its last request, and not before', async () => {
    const t = setup({ sizes: { a: 10, b: 10 }, settings: { defaultTtlSeconds: 0, models: { a: { pinned: false, ttlSeconds: 10, loadOnStartup: false } } } });
    await t.sut.start();
    await loadAll(t, ['a', 'b']);
    await t.clock.advance(5000);
    t.lastUsed.set('a', t.clock.now());
    await t.clock.advance(9000);
    expect(t.unloads).toEqual([]);
    await t.clock.advance(2000);
    expect(t.unloads).toEqual(['a']);
  });

  it('does not unload an idle model while it serves a request', async () => {
    const t = setup({ sizes: { a: 10 }, settings: { defaultTtlSeconds: 5, models: {} } });
    await t.sut.start();
    await loadAll(t, ['a']);
    t.router.busy.set('a', 1);
    await t.clock.advance(8000);
    expect(t.unloads).toEqual([]);
    t.router.busy.set('a', 0);
    await t.clock.advance(1000);
    expect(t.unloads).toEqual(['a']);
  });

  it('coalesces reports: many changes in a moment make one report', async () => {
    const t = setup({ sizes: { a: 10, b: 10, c: 10 } });
    await t.sut.start();
    await t.clock.advance(1000);
    const before = t.reports.length;
    await loadAll(t, ['a', 'b', 'c']);
    await t.clock.advance(300);
    expect(t.reports.length - before).toBe(1);
    expect(t.reports.at(-1)?.models.map((m) => m.modelId).sort()).toEqual(['a', 'b', 'c']);
    expect(t.reports.at(-1)?.devices[0]).toMatchObject({ id: 'cpu', usedBytes: 30 * MiB, freeBytes: 970 * MiB });
  });
});

describe('PlacementService.loadStartupModels', () => {
  const startup: PlacementSettings = { defaultTtlSeconds: 0, models: { b: { pinned: false, ttlSeconds: null, loadOnStartup: true } } };

  it('loads the models marked to load on start-up', async () => {
    const t = setup({ sizes: { a: 10, b: 10 }, settings: startup });
    await t.sut.start();
    await t.sut.loadStartupModels();
    expect(t.loads).toEqual(['b']);
  });

  it('on a fresh Redis, waits for the gateway\'s settings instead of reading the marks from the defaults', async () => {
    const t = setup({ sizes: { a: 10, b: 10 }, settingsStored: false });
    await t.sut.start();
    await t.sut.loadStartupModels();
    expect(t.loads).toEqual([]);
    t.settingsArrive(startup);
    await settle();
    expect(t.loads).toEqual(['b']);
    // A later change of the settings is not a start-up.
    t.settingsArrive({ defaultTtlSeconds: 0, models: { a: { pinned: false, ttlSeconds: null, loadOnStartup: true } } });
    await settle();
    expect(t.loads).toEqual(['b']);
  });
});

describe('PlacementService.estimateInBackground', () => {
  it('estimates a small catalogue once started, and leaves a large one to first loads', async () => {
    const t = setup({ sizes: { a: 10, b: 20 } });
    t.sut.estimateInBackground(['a', 'b']);
    await settle();
    expect(t.sut.report().footprints).toEqual([]);
    await t.sut.start();
    t.sut.estimateInBackground(Array.from({ length: 40 }, (_, i) => `m${i}`));
    await settle();
    expect(t.sut.report().footprints).toEqual([]);
    t.sut.estimateInBackground(['a', 'b']);
    await settle(20);
    expect(t.sut.report().footprints.map((f) => [f.modelId, f.estimated.cpu])).toEqual([
      ['a', 10 * MiB],
      ['b', 20 * MiB],
    ]);
  });
});

describe('PlacementService.measure', () => {
  it('measures the instance by its port: RSS on cpu, its nvidia-smi memory on its GPU; a GPU it cannot see stays estimated', async () => {
    const clock = new ManualClock();
    const router = new FakeRouter();
    router.models = [{ id: 'a', status: { value: 'loaded', args: ['llama-server', '--port', '40001', '--model', 'a.gguf'] } }];
    const models = new ModelStates(() => ({ message: 'failed', logTail: [] }));
    const saved: StoredFootprints[] = [];
    let apps = [
      { pid: 200, gpuUuid: 'GPU-0', usedBytes: 300 * MiB },
      { pid: 999, gpuUuid: 'GPU-1', usedBytes: 50 * MiB },
    ];
    const gpus = [
      { index: 0, uuid: 'GPU-0', name: 'A', totalBytes: 1000 * MiB },
      { index: 1, uuid: 'GPU-1', name: 'B', totalBytes: 1000 * MiB },
    ];
    const sut = new PlacementService(
      { nodeId: 'n', mode: 'memory', ramBudgetBytes: null, ramReserveBytes: 0, gpuReserveBytes: 0 },
      {
        models,
        router: { runningClient: () => router, status: { state: 'running', pid: 100 } as LlamaStatus },
        memory: {
          ramTotalBytes: async () => 8000 * MiB,
          gpus: async () => gpus,
          gpuProcesses: async () => apps,
          instancePid: async (routerPid, port) => (routerPid === 100 && port === 40001 ? 200 : null),
          rssBytes: async (pid) => (pid === 200 ? 40 * MiB : null),
        },
        redis: { watchSettings: async (onChange) => onChange({ defaultTtlSeconds: 0, models: {} }, true), lastUsed: async () => new Map() },
        store: { read: async () => undefined, write: async (v) => void saved.push(structuredClone(v)) },
        shape: async () => ({ ...shapeOf(20), layerCount: 2, layerBytes: [10 * MiB, 10 * MiB] }),
        footprintSettings: async () => ({ ctxSize: 512, parallel: 1, cacheTypeK: 'f16', cacheTypeV: 'f16', gpuLayers: 'all' }),
        unload: async () => undefined,
        load: async () => undefined,
        clock,
        logger: quietLogger(),
      },
    );
    await sut.start();
    const footprint = await sut.measure('a');
    // cuda0 is the only GPU the estimate uses; nvidia-smi lists the instance there.
    expect(footprint?.measured).toEqual({ cpu: 40 * MiB, cuda0: 300 * MiB });
    expect(saved.at(-1)?.measured['a\nctx=512;np=1;ctk=f16;ctv=f16;ngl=all']?.bytes).toEqual({ cpu: 40 * MiB, cuda0: 300 * MiB });
    // In a container nvidia-smi may list no process of ours: the GPU share stays the estimate.
    apps = [];
    const unseen = await sut.measure('a');
    expect(unseen?.measured).toEqual({ cpu: 40 * MiB, cuda0: unseen?.estimated.cuda0 });
    expect(unseen?.estimated.cuda0).toBeGreaterThan(20 * MiB);
  });
});

describe('PlacementService in-flight checks', () => {
  it('counts a model as busy when llama-server cannot be asked, and never evicts it on that guess', async () => {
    const t = setup({ budgetMiB: 150, sizes: { a: 100, b: 100 } });
    await t.sut.start();
    await loadAll(t, ['a']);
    t.router.inFlight = async () => {
      throw new TypeError('fetch failed');
    };
    const result = t.sut.beforeLoad('b').catch((e: unknown) => e);
    await t.clock.advance(1500);
    expect(await result).toMatchObject({ code: 'INSUFFICIENT_MEMORY' });
    expect(t.unloads).toEqual([]);
  });
});
