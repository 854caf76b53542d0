import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG, ErrorCode, type BroadcastData, type CatalogueEntry } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { ModelRepository } from '../repositories/model.repository.js';
import { StateRepository } from '../repositories/state.repository.js';
import { DashboardState } from './dashboard-state.js';
import { ModelFeed } from './model-feed.js';

let db: Db;
let models: ModelRepository;
let dashboard: DashboardState;
let sent: BroadcastData['models:changed'][];
const sink = { broadcast: async (_event: 'models:changed', data: BroadcastData['models:changed']) => void sent.push(data) };

beforeEach(() => {
  db = openDatabase(':memory:');
  models = new ModelRepository(db);
  dashboard = new DashboardState(new StateRepository(db), models, DEFAULT_SERVER_CONFIG);
  sent = [];
});
afterEach(() => db.close());

function entry(id: string, patch: Partial<CatalogueEntry> = {}): CatalogueEntry {
  return { id, path: `${id}.gguf`, layout: 'single', files: [`${id}.gguf`], mmproj: null, sizeBytes: 1, modifiedAt: 1, valid: true, invalidReason: null,
    architecture: 'llama', name: id, quantization: 'Q4_K_M', parameterCount: 7, contextLength: 8, ...patch };
}
const sync = (entries: CatalogueEntry[]) => models.syncCatalogue({ nodeId: 'n', modelsDir: '/models', scannedAt: 1, entries });

describe(ModelFeed.name, () => {
  it('sends only the models added, changed and removed since the start or the last publish', async () => {
    sync([entry('a'), entry('b'), entry('c')]);
    const sut = new ModelFeed(dashboard, sink);
    sync([entry('a'), entry('b', { sizeBytes: 2 }), entry('d')]);
    const data = await sut.publish();
    expect(data?.upserted.map((m) => m.id)).toEqual(['b', 'd']);
    expect(data?.removed).toEqual([{ nodeId: 'n', id: 'c' }]);
    expect(sent).toHaveLength(1);
    // Nothing changed since: nothing is sent.
    expect(await sut.publish()).toBeNull();
    expect(sent).toHaveLength(1);
  });

  it('leaves live state changes to models:status, and sends the skipped files when asked even without a model change', async () => {
    sync([entry('a')]);
    const sut = new ModelFeed(dashboard, sink);
    models.setState('n', { id: 'a', status: 'loaded', progress: null, stage: null, args: [], error: null, updatedAt: 5 });
    expect(await sut.publish()).toBeNull();
    expect(await sut.publish({ skipped: true })).toEqual({ upserted: [], removed: [], skipped: [] });
  });
});

describe(`${DashboardState.name} model pages`, () => {
  it('pages with an opaque cursor until the last page, and refuses a cursor it did not make', () => {
    sync(['a', 'b', 'c'].map((id) => entry(id)));
    const first = dashboard.modelPage({ limit: 2 });
    expect(first.models.map((m) => m.id)).toEqual(['a', 'b']);
    expect(first.total).toBe(3);
    expect(first.nextCursor).not.toBeNull();
    const last = dashboard.modelPage({ limit: 2, cursor: first.nextCursor ?? '' });
    expect(last.models.map((m) => m.id)).toEqual(['c']);
    expect(last.nextCursor).toBeNull();
    expect(() => dashboard.modelPage({ limit: 2, cursor: 'not a cursor' })).toThrow(expect.objectContaining({ code: ErrorCode.VALIDATION_FAILED }));
  });
});
