import { describe, expect, it } from 'vitest';
import {
  effectiveTtlSeconds,
  footprintSettingsKey,
  formatBytes,
  MemoryReportSchema,
  planPlacement,
  type DeviceBudget,
  type MemoryReport,
  type ResidentModel,
} from './placement.js';

const MiB = 1024 * 1024;

function device(id: string, budgetMiB: number, usedMiB: number): DeviceBudget {
  return {
    id,
    kind: id === 'cpu' ? 'ram' : 'gpu',
    name: id,
    totalBytes: (budgetMiB + 512) * MiB,
    reserveBytes: 512 * MiB,
    budgetBytes: budgetMiB * MiB,
    usedBytes: usedMiB * MiB,
    freeBytes: Math.max(0, budgetMiB - usedMiB) * MiB,
  };
}

function resident(modelId: string, mib: number, lastUsedAt: number | null, extra: Partial<ResidentModel> = {}): ResidentModel {
  return { modelId, status: 'loaded', bytes: { cpu: mib * MiB }, pinned: false, lastUsedAt, inFlight: 0, ttlSeconds: 0, idleUnloadAt: null, ...extra };
}

function report(budgetMiB: number, models: ResidentModel[]): Pick<MemoryReport, 'devices' | 'models'> {
  const used = models.reduce((sum, m) => sum + (m.bytes.cpu ?? 0) / MiB, 0);
  return { devices: [device('cpu', budgetMiB, used)], models };
}

describe(planPlacement.name, () => {
  it('fits without evicting when there is room', () => {
    const sut = planPlacement(report(1000, [resident('a', 300, 1)]), 'b', { cpu: 400 * MiB });
    expect(sut).toMatchObject({ fits: true, evict: [], waitFor: [], deviceId: 'cpu', needBytes: 400 * MiB, freeBytes: 700 * MiB, message: null });
  });

  it('evicts least recently used first, and only as many as needed', () => {
    const models = [resident('new', 300, 30), resident('old', 300, 10), resident('mid', 300, 20)];
    const sut = planPlacement(report(1000, models), 'x', { cpu: 500 * MiB });
    expect(sut.fits).toBe(true);
    expect(sut.evict).toEqual(['old', 'mid']);
  });

  it('takes a model never used (null lastUsedAt) before any used one', () => {
    const sut = planPlacement(report(600, [resident('used', 300, 5), resident('never', 300, null)]), 'x', { cpu: 300 * MiB });
    expect(sut.evict).toEqual(['never']);
  });

  it('never evicts a pinned or a loading model', () => {
    const models = [resident('pinned', 400, 1, { pinned: true }), resident('loading', 300, 2, { status: 'loading' }), resident('idle', 300, 3)];
    const sut = planPlacement(report(1000, models), 'x', { cpu: 300 * MiB });
    expect(sut).toMatchObject({ fits: true, evict: ['idle'] });
  });

  it('prefers idle models over busy ones and says which busy ones to wait for', () => {
    const models = [resident('busy', 400, 1, { inFlight: 1 }), resident('idle', 400, 9)];
    expect(planPlacement(report(800, models), 'x', { cpu: 400 * MiB })).toMatchObject({ fits: true, evict: ['idle'], waitFor: [] });
    const both = planPlacement(report(800, models), 'x', { cpu: 800 * MiB });
    expect(both).toMatchObject({ fits: true, evict: ['idle', 'busy'], waitFor: ['busy'] });
  });

  it('refuses when pinned models hold the room, naming need, free and holders', () => {
    const models = [resident('pinned', 700, 1, { pinned: true }), resident('idle', 100, 2)];
    const sut = planPlacement(report(1000, models), 'big', { cpu: 400 * MiB });
    expect(sut.fits).toBe(false);
    expect(sut.evict).toEqual([]);
    expect(sut).toMatchObject({ deviceId: 'cpu', needBytes: 400 * MiB, freeBytes: 200 * MiB });
    expect(sut.heldBy).toEqual([
      { modelId: 'pinned', bytes: 700 * MiB, reason: 'pinned' },
      { modelId: 'idle', bytes: 100 * MiB, reason: 'evictable' },
    ]);
    expect(sut.message).toBe('big needs 400 MiB on cpu, 200 MiB free of a 1000 MiB budget; held by pinned (700 MiB, pinned)');
  });

  it('refuses a model larger than the whole device', () => {
    const sut = planPlacement(report(1000, []), 'huge', { cpu: 2000 * MiB });
    expect(sut).toMatchObject({ fits: false, needBytes: 2000 * MiB, freeBytes: 1000 * MiB });
    expect(sut.message).toContain('nothing else holds it');
  });

  it('refuses a footprint on a device the node does not have', () => {
    const sut = planPlacement(report(1000, []), 'gpu-model', { cuda0: 10 * MiB });
    expect(sut).toMatchObject({ fits: false, deviceId: 'cuda0' });
  });

  it('answers "fits" for a model that is already resident', () => {
    const sut = planPlacement(report(500, [resident('a', 500, 1)]), 'a', { cpu: 500 * MiB });
    expect(sut).toMatchObject({ fits: true, evict: [] });
  });

  it('across devices, evicts only models that free a device still short', () => {
    const gpuModel = resident('on-gpu', 0, 1, { bytes: { cuda0: 6000 * MiB, cpu: 100 * MiB } });
    const cpuModel = resident('on-cpu', 0, 0, { bytes: { cpu: 3000 * MiB } });
    const devices = [device('cpu', 4000, 3100), device('cuda0', 8000, 6000)];
    const sut = planPlacement({ devices, models: [gpuModel, cpuModel] }, 'x', { cuda0: 4000 * MiB, cpu: 50 * MiB });
    expect(sut).toMatchObject({ fits: true, evict: ['on-gpu'], deviceId: 'cuda0' });
  });
});

describe(effectiveTtlSeconds.name, () => {
  it('uses the model TTL, else the default; a pinned model never idles out', () => {
    const settings = {
      defaultTtlSeconds: 600,
      models: { own: { pinned: false, ttlSeconds: 30, loadOnStartup: false }, pin: { pinned: true, ttlSeconds: 30, loadOnStartup: false } },
    };
    expect(effectiveTtlSeconds(settings, 'own')).toBe(30);
    expect(effectiveTtlSeconds(settings, 'other')).toBe(600);
    expect(effectiveTtlSeconds(settings, 'pin')).toBe(0);
  });
});

describe(footprintSettingsKey.name, () => {
  it('names every setting that changes a footprint', () => {
    expect(footprintSettingsKey({ ctxSize: 4096, parallel: 2, cacheTypeK: 'f16', cacheTypeV: 'q8_0', gpuLayers: 'auto' })).toBe('ctx=4096;np=2;ctk=f16;ctv=q8_0;ngl=auto');
  });
});

describe(formatBytes.name, () => {
  it.each([
    [512, '512 B'],
    [1536, '1.5 KiB'],
    [300 * MiB, '300 MiB'],
    [2.25 * 1024 * MiB, '2.3 GiB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe('MemoryReportSchema', () => {
  it('parses a report', () => {
    const value: MemoryReport = { nodeId: 'n', mode: 'memory', sentAt: 1, ...report(100, [resident('a', 10, 1)]), footprints: [] };
    expect(MemoryReportSchema.parse(value)).toEqual(value);
  });
});
