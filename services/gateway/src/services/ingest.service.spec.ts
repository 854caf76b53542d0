import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG, RedisKeys, type BroadcastData, type BroadcastEvent, type LlamaStatus, type ModelState, type StatusEvent } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { openDatabase, type Db } from '../db/database.js';
import { LogRepository } from '../repositories/log.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { ModelRepository } from '../repositories/model.repository.js';
import { StateRepository } from '../repositories/state.repository.js';
import type { Broadcaster } from './broadcaster.js';
import { DashboardState } from './dashboard-state.js';
import { IngestService, MODEL_STATES_BATCH_MAX, MODEL_STATES_BATCH_MIN } from './ingest.service.js';
import { ModelFeed } from './model-feed.js';
import { NodeWatch } from './node-watch.js';

const NODE = 'node-a';

function model(id: string, status: ModelState['status'] = 'unloaded'): ModelState {
  return { id, status, progress: null, stage: null, args: [], error: null, updatedAt: 1 };
}

function llama(): LlamaStatus {
  return { nodeId: NODE, state: 'running', pid: 1, url: 'http://x', startedAt: 1, restarts: 0, nextRestartAt: null, lastExit: null, args: [], updatedAt: 1 };
}

let dir: string;
let db: Db;
let models: ModelRepository;
let state: StateRepository;
let sent: { event: BroadcastEvent; data: unknown }[];
/** What the node's models hash in Redis holds, for a resync. */
let redisHash: { models: ModelState[]; digest: string | null };
let reads: number;
let sut: IngestService;
let seq = 0;

const broadcaster = { broadcast: async <B extends BroadcastEvent>(event: B, data: BroadcastData[B]) => void sent.push({ event, data }) } as unknown as Broadcaster;

/** Hands `events` to the service as stream entries sent now. */
async function ingest(...events: StatusEvent[]): Promise<void> {
  await sut.handle(events.map((payload) => ({ stream: RedisKeys.statusStream, id: `${Date.now()}-${seq++}`, payload })));
}

const delta = (m: ModelState, prevDigest: string, digest: string): StatusEvent => ({ kind: 'model', nodeId: NODE, model: m, prevDigest, digest });
const beat = (digest: string, modelCount = 0): StatusEvent => ({ kind: 'state', nodeId: NODE, sentAt: Date.now(), status: llama(), digest, modelCount });
const statusOf = (id: string): string | undefined => models.get(NODE, id)?.state.status;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-ingest-'));
  db = openDatabase(join(dir, 'test.db'));
  models = new ModelRepository(db);
  state = new StateRepository(db);
  sent = [];
  reads = 0;
  redisHash = { models: [], digest: null };
  const dashboard = new DashboardState(state, models, DEFAULT_SERVER_CONFIG);
  sut = new IngestService({
    db,
    models,
    logs: new LogRepository(db),
    metrics: new MetricsRepository(db),
    state,
    dashboard,
    broadcaster,
    feed: new ModelFeed(dashboard, broadcaster),
    logger: createLogger({ service: 'test', level: 'error' }),
    readNodeModels: async () => {
      reads++;
      return redisHash;
    },
  });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(IngestService.name, () => {
  it('stores deltas whose digests chain, and then takes a heartbeat with the same digest without reading every state', async () => {
    redisHash = { models: [model('a')], digest: 'd1' };
    await ingest(beat('d1', 1)); // first heartbeat: nothing stored yet, read once
    expect(reads).toBe(1);

    await ingest(delta(model('a', 'loading'), 'd1', 'd2'), delta(model('a', 'loaded'), 'd2', 'd3'));
    await ingest(beat('d3', 1));

    expect(reads).toBe(1);
    expect(statusOf('a')).toBe('loaded');
    expect(sent.filter((s) => s.event === 'models:status').map((s) => (s.data as { model: ModelState }).model.status)).toEqual(['unloaded', 'loading', 'loaded']);
  });

  it('reads every state again when a delta was lost, stores only what differs and removes what the node no longer reports', async () => {
    redisHash = { models: [model('a'), model('b'), model('gone')], digest: 'd1' };
    await ingest(beat('d1', 3));
    // A delta is lost (Redis was away): the next one does not start from the stored digest.
    await ingest(delta(model('b', 'loaded'), 'd2', 'd3'));
    sent = [];
    redisHash = { models: [model('a', 'loaded'), model('b', 'loaded')], digest: 'd3' };
    await ingest(beat('d3', 2));

    expect(reads).toBe(2);
    expect(statusOf('a')).toBe('loaded');
    expect(statusOf('gone')).toBeUndefined();
    // Only the state that differed is broadcast.
    expect(sent.filter((s) => s.event === 'models:status').map((s) => (s.data as { model: ModelState }).model.id)).toEqual(['a']);
    // In step again: the same heartbeat reads nothing.
    await ingest(beat('d3', 2));
    expect(reads).toBe(2);
  });

  it('stores the entries of a scan in progress without removing others', async () => {
    const entry = (id: string) => ({
      id,
      path: `${id}.gguf`,
      layout: 'single' as const,
      files: [`${id}.gguf`],
      mmproj: null,
      sizeBytes: 1,
      modifiedAt: 1,
      valid: true,
      invalidReason: null,
      architecture: 'llama',
      name: id,
      quantization: 'F16',
      parameterCount: 1,
      contextLength: 512,
    });
    await ingest({ kind: 'catalogue', nodeId: NODE, catalogue: { nodeId: NODE, modelsDir: '/m', scannedAt: 1, entries: [entry('old')] } });
    sent = [];
    await ingest({ kind: 'catalogue-entries', nodeId: NODE, entries: [entry('x'), entry('y')] });

    expect(models.list().map((m) => m.id)).toEqual(['old', 'x', 'y']);
    // Clients are told only what changed: the two new entries.
    const changed = sent.filter((s) => s.event === 'models:changed').map((s) => (s.data as { upserted: { id: string }[] }).upserted.map((m) => m.id));
    expect(changed.flat().sort()).toEqual(['x', 'y']);
  });

  it('sends the many states of one stored batch (a node starting) as one models:states, with each model\'s newest state', async () => {
    const ids = Array.from({ length: 500 }, (_, i) => `m${String(i).padStart(3, '0')}`);
    const events: StatusEvent[] = ids.map((id) => ({ kind: 'model', nodeId: NODE, model: model(id) }));
    // One model changes twice in the batch: only its newest state goes, where it first changed.
    events.push({ kind: 'model', nodeId: NODE, model: model('m007', 'loaded') });
    await ingest(...events);

    const batches = sent.filter((s) => s.event === 'models:states').map((s) => s.data as BroadcastData['models:states']);
    expect(sent.filter((s) => s.event === 'models:status')).toEqual([]);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.nodeId).toBe(NODE);
    expect(batches[0]?.models.map((m) => m.id)).toEqual(ids);
    expect(batches[0]?.models[7]).toEqual(model('m007', 'loaded'));
    expect(statusOf('m007')).toBe('loaded');
  });

  it('keeps a few changes as one models:status each, and splits a batch over the largest size', async () => {
    const few = Array.from({ length: MODEL_STATES_BATCH_MIN - 1 }, (_, i) => model(`few-${i}`, 'loading'));
    await ingest(...few.map((m): StatusEvent => ({ kind: 'model', nodeId: NODE, model: m })));
    expect(sent.filter((s) => s.event.startsWith('models:')).map((s) => s.event)).toEqual(few.map(() => 'models:status'));

    sent = [];
    const many = Array.from({ length: MODEL_STATES_BATCH_MAX + 1 }, (_, i) => model(`many-${i}`));
    await ingest(...many.map((m): StatusEvent => ({ kind: 'model', nodeId: NODE, model: m })));
    const sizes = sent.filter((s) => s.event === 'models:states').map((s) => (s.data as BroadcastData['models:states']).models.length);
    expect(sizes).toEqual([MODEL_STATES_BATCH_MAX, 1]);
  });

  it('sends what a resync found different as one models:states', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `r${i}`);
    redisHash = { models: ids.map((id) => model(id)), digest: 'd1' };
    await ingest(beat('d1', ids.length));

    expect(reads).toBe(1);
    const batches = sent.filter((s) => s.event === 'models:states').map((s) => s.data as BroadcastData['models:states']);
    expect(batches.map((b) => b.models.length)).toEqual([ids.length]);
    expect(sent.filter((s) => s.event === 'models:status')).toEqual([]);
  });
});

describe(NodeWatch.name, () => {
  it('marks a node whose presence key went away offline and stale at once, tells clients once, and a late report does not revive it', async () => {
    const present = new Map([[NODE, true]]);
    const watch = new NodeWatch({ state, broadcaster, presence: async () => present });
    await ingest(beat('d0'));
    expect(await watch.checkPresence()).toEqual([]);

    present.set(NODE, false);
    sent = [];
    expect(await watch.checkPresence()).toEqual([NODE]);
    expect(await watch.checkPresence()).toEqual([]);
    expect(sent).toEqual([{ event: 'nodes:status', data: { node: expect.objectContaining({ nodeId: NODE, online: false, stale: true }) } }]);
    expect(state.nodes()).toEqual([expect.objectContaining({ nodeId: NODE, online: false, stale: true })]);

    // A report sent before it died, read late, does not bring it back; a new one does.
    const last = state.nodes()[0]?.lastHeardAt ?? 0;
    await sut.handle([{ stream: RedisKeys.statusStream, id: `${last}-99`, payload: { kind: 'llama', nodeId: NODE, status: llama() } }]);
    expect(state.nodes()[0]?.online).toBe(false);
    await sut.handle([{ stream: RedisKeys.statusStream, id: `${last + 10}-0`, payload: { kind: 'llama', nodeId: NODE, status: llama() } }]);
    expect(state.nodes()[0]?.online).toBe(true);
  });

  it('leaves a node whose presence key it never saw to the silence rule', async () => {
    const watch = new NodeWatch({ state, broadcaster, presence: async (ids) => new Map(ids.map((id) => [id, false])) });
    await ingest(beat('d0'));
    expect(await watch.checkPresence()).toEqual([]);
    expect(state.nodes()[0]?.online).toBe(true);
  });
});
