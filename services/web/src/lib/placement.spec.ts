import { describe, expect, it } from 'vitest';
import type { MemoryReport, ResidentModel } from '@llamaproxy/shared';
import { upsertMemoryReport } from '../core/reducers.js';
import { loadPreview, loadPreviewText } from './load-preview.js';
import { deviceBytesText, footprintRows } from './footprints.js';
import { deviceBars, modelHue } from './memory-bars.js';
import { describePlacement, parseTtlInput, ttlInputValue } from './placement-form.js';

const MiB = 1024 * 1024;

function resident(modelId: string, mib: number, patch: Partial<ResidentModel> = {}): ResidentModel {
  return { modelId, status: 'loaded', bytes: { cpu: mib * MiB }, pinned: false, lastUsedAt: 0, inFlight: 0, ttlSeconds: 0, idleUnloadAt: null, ...patch };
}

/** A node with a 1000 MiB RAM budget and these residents; footprints for the named models. */
function report(models: ResidentModel[], footprints: Record<string, number> = {}, patch: Partial<MemoryReport> = {}): MemoryReport {
  const used = models.reduce((s, m) => s + (m.bytes.cpu ?? 0), 0);
  const budget = 1000 * MiB;
  return {
    nodeId: 'node-a',
    mode: 'memory',
    sentAt: 1,
    devices: [{ id: 'cpu', kind: 'ram', name: 'RAM', totalBytes: 2000 * MiB, reserveBytes: 1000 * MiB, budgetBytes: budget, usedBytes: used, freeBytes: Math.max(0, budget - used) }],
    models,
    footprints: Object.entries(footprints).map(([modelId, mib]) => ({
      modelId,
      settingsKey: 'ctx=512;np=1;ctk=f16;ctv=f16;ngl=0',
      settings: { ctxSize: 512, parallel: 1, cacheTypeK: 'f16', cacheTypeV: 'f16', gpuLayers: 0 },
      estimated: { cpu: mib * MiB },
      measured: null,
      measuredAt: null,
    })),
    ...patch,
  };
}

describe(deviceBars.name, () => {
  it('gives each resident model its share of the budget and the rest as free room', () => {
    const [sut] = deviceBars([report([resident('big', 500, { pinned: true }), resident('small', 250, { status: 'loading' })])]);
    expect(sut).toMatchObject({ key: 'node-a/cpu', budgetBytes: 1000 * MiB, freeBytes: 250 * MiB, over: false, freeShare: 0.25 });
    expect(sut?.segments.map((s) => [s.modelId, s.share, s.pinned, s.status])).toEqual([
      ['big', 0.5, true, 'loaded'],
      ['small', 0.25, false, 'loading'],
    ]);
  });

  it('scales to what the models hold when they exceed the budget, and marks the bar', () => {
    const [sut] = deviceBars([report([resident('a', 900), resident('b', 600)])]);
    expect(sut?.over).toBe(true);
    expect(sut?.segments.map((s) => s.share)).toEqual([0.6, 0.4]);
    expect(sut?.freeShare).toBe(0);
  });

  it('has no bar without a report, and one per device of every node', () => {
    expect(deviceBars([])).toEqual([]);
    const two = deviceBars([report([], {}, { nodeId: 'node-b' }), report([])]);
    expect(two.map((b) => b.key)).toEqual(['node-a/cpu', 'node-b/cpu']);
  });

  it('keeps a model\'s colour stable', () => {
    expect(modelHue('tiny-llama-a')).toBe(modelHue('tiny-llama-a'));
    expect(modelHue('tiny-llama-a')).not.toBe(modelHue('tiny-llama-b'));
  });
});

describe(loadPreview.name, () => {
  it('names the least recently used models a load would unload, and who finishes requests first', () => {
    const r = report([resident('old', 400, { lastUsedAt: 1 }), resident('busy', 300, { lastUsedAt: 2, inFlight: 1 }), resident('new', 200, { lastUsedAt: 3 })], { next: 700 });
    const sut = loadPreview([r], 'node-a', 'next');
    expect(sut).toEqual({ kind: 'evicts', evict: ['old', 'new'], waitFor: [] });
    expect(loadPreviewText('next', sut)).toBe('Loading next unloads old, new to make room (least recently used first).');
    const tighter = loadPreview([r], 'node-a', 'next2');
    expect(tighter).toEqual({ kind: 'unknown' });
  });

  it('judges a model the node has not estimated yet by its file size, and says so', () => {
    const r = report([resident('old', 400, { lastUsedAt: 1 }), resident('new', 400, { lastUsedAt: 3 })], {});
    const sut = loadPreview([r], 'node-a', 'unseen', 300 * 1024 * 1024);
    expect(sut).toEqual({ kind: 'evicts', evict: ['old'], waitFor: [], fromFileSize: true });
    expect(loadPreviewText('unseen', sut)).toBe('Loading unseen unloads old to make room (least recently used first). (Judged by its file size: it has not been estimated yet.)');
    expect(loadPreview([r], 'node-a', 'unseen', 100 * 1024 * 1024)).toEqual({ kind: 'fits' });
  });

  it('says nothing when the model fits, is resident, or nothing is known', () => {
    const r = report([resident('a', 100)], { small: 100, a: 100 });
    expect(loadPreview([r], 'node-a', 'small')).toEqual({ kind: 'fits' });
    expect(loadPreview([r], 'node-a', 'a')).toEqual({ kind: 'fits' });
    expect(loadPreview([r], 'other-node', 'small')).toEqual({ kind: 'unknown' });
    expect(loadPreview([{ ...r, mode: 'count' }], 'node-a', 'small')).toEqual({ kind: 'unknown' });
    expect(loadPreviewText('small', { kind: 'fits' })).toBeNull();
  });

  it('tells that a model cannot fit when pinned models hold the room', () => {
    const r = report([resident('pinned', 800, { pinned: true })], { huge: 500 });
    const sut = loadPreview([r], 'node-a', 'huge');
    expect(sut.kind).toBe('refused');
    expect(loadPreviewText('huge', sut)).toBe('huge cannot be loaded: huge needs 500 MiB on cpu, 200 MiB free of a 1000 MiB budget; held by pinned (800 MiB, pinned).');
  });
});

describe(upsertMemoryReport.name, () => {
  it('replaces a node\'s report by a newer one and ignores an older one', () => {
    const first = report([], {}, { sentAt: 5 });
    const newer = report([resident('a', 1)], {}, { sentAt: 6 });
    expect(upsertMemoryReport([first], newer)).toEqual([newer]);
    expect(upsertMemoryReport([newer], first)).toEqual([newer]);
    expect(upsertMemoryReport([newer], report([], {}, { nodeId: 'b' })).map((r) => r.nodeId)).toEqual(['b', 'node-a']);
  });
});

describe(parseTtlInput.name, () => {
  it.each([
    ['', null],
    [' 600 ', 600],
    ['0', 0],
    ['2592000', 2_592_000],
  ])('reads %j as %j', (text, expected) => {
    expect(parseTtlInput(text)).toBe(expected);
  });

  it.each(['-1', '1.5', 'ten', '2592001'])('refuses %j with a message', (text) => {
    expect(typeof parseTtlInput(text)).toBe('string');
  });

  it('writes and describes settings', () => {
    expect(ttlInputValue(null)).toBe('');
    expect(ttlInputValue(30)).toBe('30');
    expect(describePlacement({ pinned: true, ttlSeconds: 30, loadOnStartup: true })).toBe('pinned, loads on start-up');
    expect(describePlacement({ pinned: false, ttlSeconds: 0, loadOnStartup: false })).toBe('never unloaded when idle');
    expect(describePlacement({ pinned: false, ttlSeconds: 600, loadOnStartup: false })).toBe('idle TTL 600 s');
  });
});

describe(footprintRows.name, () => {
  it('puts each model\'s estimate beside its measurement, with their ratio', () => {
    const r = report([], { b: 100, a: 50 });
    const measured = { ...r, footprints: r.footprints.map((f) => (f.modelId === 'a' ? { ...f, measured: { cpu: 60 * MiB }, measuredAt: 5 } : f)) };
    const rows = footprintRows([measured]);
    expect(rows.map((x) => [x.modelId, x.ratio])).toEqual([
      ['a', 1.2],
      ['b', null],
    ]);
    expect(deviceBytesText(rows[0]?.measured ?? null, (n) => `${n / MiB} MiB`)).toBe('cpu 60 MiB');
    expect(deviceBytesText(null, String)).toBe('—');
  });
});
