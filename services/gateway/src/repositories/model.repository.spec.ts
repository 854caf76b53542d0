import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalogue, CatalogueEntry } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { ModelRepository } from './model.repository.js';

let db: Db;

beforeEach(() => {
  // The real migrations, on a database in memory.
  db = openDatabase(':memory:');
});
afterEach(() => db.close());

function entry(id: string, patch: Partial<CatalogueEntry> = {}): CatalogueEntry {
  return {
    id,
    path: `${id}.gguf`,
    layout: 'single',
    files: [`${id}.gguf`],
    mmproj: null,
    sizeBytes: 1,
    modifiedAt: 1,
    valid: true,
    invalidReason: null,
    architecture: 'llama',
    name: id,
    quantization: 'Q4_K_M',
    parameterCount: 7,
    contextLength: 8,
    ...patch,
  };
}

function catalogue(entries: CatalogueEntry[], patch: Partial<Catalogue> = {}): Catalogue {
  return { nodeId: 'n', modelsDir: '/models', scannedAt: 1234, entries, ...patch };
}

const split = entry('big', {
  path: 'big/big-00001-of-00003.gguf',
  layout: 'multi-shard',
  files: ['big/big-00001-of-00003.gguf', 'big/big-00002-of-00003.gguf'],
  split: { count: 3, present: [1, 2] },
  valid: false,
  invalidReason: 'shard 3 of 3 missing',
});
const withCompanions = entry('vision', {
  path: 'vision/vision.gguf',
  layout: 'multimodal',
  files: ['vision/vision.gguf', 'vision/mmproj-vision.gguf', 'vision/mtp-vision.gguf'],
  mmproj: 'vision/mmproj-vision.gguf',
  draft: 'vision/mtp-vision.gguf',
});

describe(ModelRepository.name, () => {
  it('keeps the drafter, the split set and the not-loadable reason of each entry', () => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(catalogue([split, withCompanions, entry('plain')]));
    const stored = new Map(sut.list().map(({ nodeId: _node, state: _state, ...catalogued }) => [catalogued.id, catalogued]));
    expect(stored.get('big')).toEqual({ ...split, draft: null });
    expect(stored.get('vision')).toEqual(withCompanions);
    // One file: no split set, no drafter.
    expect(stored.get('plain')).toEqual({ ...entry('plain'), draft: null });
    expect(stored.get('plain')).not.toHaveProperty('split');
  });

  it('replaces the fields on the next scan, and clears them when the entry stays only as a router row', () => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(catalogue([split, withCompanions]));
    sut.syncCatalogue(catalogue([{ ...split, split: { count: 3, present: [1, 2, 3] }, valid: true, invalidReason: null }, { ...withCompanions, draft: null }]));
    expect(sut.get('n', 'big')).toMatchObject({ split: { count: 3, present: [1, 2, 3] }, valid: true, invalidReason: null });
    expect(sut.get('n', 'vision')?.draft).toBeNull();
    // Still reported by the router after its files went: kept, without catalogue data.
    sut.setState('n', { id: 'vision', status: 'loaded', progress: null, stage: null, args: [], error: null, updatedAt: 1 });
    sut.syncCatalogue(catalogue([split]));
    const bare = sut.get('n', 'vision');
    expect(bare).toMatchObject({ path: '', draft: null, mmproj: null });
    expect(bare).not.toHaveProperty('split');
  });

  it("keeps the catalogue's skipped entries per node, replaced by each scan", () => {
    const sut = new ModelRepository(db);
    expect(sut.catalogueInfo('n')).toBeNull();
    const skipped = [{ path: 'gone.gguf', reason: 'link to nothing (ENOENT); llama-server skips it too' }];
    sut.syncCatalogue(catalogue([entry('a')], { skipped }));
    sut.syncCatalogue(catalogue([], { nodeId: 'other', modelsDir: '/other' }));
    expect(sut.catalogueInfos()).toEqual([
      { nodeId: 'n', modelsDir: '/models', scannedAt: 1234, skipped },
      { nodeId: 'other', modelsDir: '/other', scannedAt: 1234, skipped: [] },
    ]);
    sut.syncCatalogue(catalogue([entry('a')], { scannedAt: 5678 }));
    expect(sut.catalogueInfo('n')).toEqual({ nodeId: 'n', modelsDir: '/models', scannedAt: 5678, skipped: [] });
  });

  it('lists the catalogue ids of a node without the rows only its router reports, and none before its first catalogue', () => {
    const sut = new ModelRepository(db);
    sut.setState('n', { id: 'custom', status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: 1 });
    expect(sut.catalogueIds('n')).toBeNull();
    sut.syncCatalogue(catalogue([entry('a'), entry('b')]));
    expect(sut.catalogueIds('n')).toEqual(new Set(['a', 'b']));
    expect(sut.catalogueIds('other')).toBeNull();
  });
});

describe(`${ModelRepository.name} pages`, () => {
  const ids = (models: { id: string }[]) => models.map((m) => m.id);

  it('pages in key order with a cursor after the last key, and counts every match', () => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(catalogue(['c', 'a', 'e', 'b', 'd'].map((id) => entry(id))));
    sut.syncCatalogue(catalogue([entry('a')], { nodeId: 'm' }));
    const first = sut.page({ limit: 2 });
    expect(first.models.map((m) => `${m.nodeId}/${m.id}`)).toEqual(['m/a', 'n/a']);
    expect(first).toMatchObject({ total: 6, hasMore: true });
    const second = sut.page({ limit: 3, after: { nodeId: 'n', id: 'b' } });
    expect(second.models.map((m) => `${m.nodeId}/${m.id}`)).toEqual(['n/c', 'n/d', 'n/e']);
    expect(second.hasMore).toBe(false);
    // The next node's models follow the last of the previous node.
    expect(sut.page({ limit: 5, after: { nodeId: 'm', id: 'a' } }).models.map((m) => `${m.nodeId}/${m.id}`)).toEqual(['n/a', 'n/b', 'n/c', 'n/d', 'n/e']);
  });

  it.each([
    ['an id part', 'fast', ['qwen-fast']],
    ['a name, case-insensitive', 'MISTRAL', ['m-1']],
    ['a quantization', 'q8_0', ['m-1']],
    ['LIKE wildcards as plain text', '%', ['pct%']],
    ['an underscore as plain text', 'x_y', ['x_y']],
    ['nothing', 'absent', []],
  ])('filters by %s', (_what, text, expected) => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(
      catalogue([
        entry('qwen-fast'),
        entry('m-1', { name: 'Mistral 7B', quantization: 'Q8_0' }),
        entry('pct%'),
        entry('x_y'),
        entry('xzy'),
      ]),
    );
    const page = sut.page({ limit: 10, text });
    expect(ids(page.models)).toEqual(expected);
    expect(page.total).toBe(expected.length);
  });

  it('finds a model by id alone', () => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(catalogue([entry('a')], { nodeId: 'z' }));
    expect(sut.findById('a')?.nodeId).toBe('z');
    expect(sut.findById('b')).toBeNull();
  });
});
