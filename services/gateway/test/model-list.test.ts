import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { MODEL_FIRST_PAGE, RedisKeys, STREAM_FIELD, type BroadcastEnvelope, type ModelView } from '@llamaproxy/shared';
import { expectOk, freePort, publishToStream, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';
import { catalogue } from './fixtures.js';

/**
 * The model list at scale, through a real gateway process, real Redis and socket.io-client: a
 * node reports a catalogue of 2,000 models through the status stream; clients get a first page
 * in the snapshot, page the rest with `models:list`, and then only deltas.
 */
describe('gateway model list', () => {
  const redisUrl = `${inject('redisUrl')}/13`;
  const nodeId = 'list-node';
  const COUNT = 2000;
  const ids = Array.from({ length: COUNT }, (_, i) => `farm-${String(i + 1).padStart(5, '0')}`);
  let dir: string;
  let port: number;
  let gateway: ManagedProcess;
  let redis: Redis;
  const clients: TestClient[] = [];

  /** The fixture's catalogue with a fixed modification time, as a rescan of unchanged files reports. */
  const stableCatalogue = (list: string[]) => {
    const c = catalogue(nodeId, list);
    return { ...c, entries: c.entries.map((e) => ({ ...e, modifiedAt: 1_700_000_000_000 })) };
  };
  const connect = async (): Promise<TestClient> => {
    const client = await TestClient.connect(`http://127.0.0.1:${port}`);
    clients.push(client);
    return client;
  };

  /** Every model, read page by page from `models:list`. */
  const readAll = async (client: TestClient, limit: number, text?: string): Promise<{ models: ModelView[]; pages: number; total: number }> => {
    const models: ModelView[] = [];
    let cursor: string | undefined;
    let pages = 0;
    let total = 0;
    do {
      const page = expectOk(await client.request('models:list', { limit, ...(cursor === undefined ? {} : { cursor }), ...(text === undefined ? {} : { text }) }));
      models.push(...page.models);
      total = page.total;
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    return { models, pages, total };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-model-list-'));
    port = await freePort();
    redis = new Redis(redisUrl);
    await redis.flushdb();
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId, catalogue: stableCatalogue(ids) });
    gateway = startService('gateway', {
      AUTH_MODE: 'none',
      REDIS_URL: redisUrl,
      DATA_DIR: dir,
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      SUPERVISOR_NODE_ID: nodeId,
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 30_000, what: 'gateway ready' }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${gateway.tail()}`);
    });
    const probe = await connect();
    await waitFor(async () => expectOk(await probe.request('models:list', { limit: 1 })).total === COUNT, { timeoutMs: 30_000, what: `${COUNT} models ingested` });
  });

  afterEach(() => {
    for (const c of clients.splice(0)) {
      c.close();
    }
  });

  afterAll(async () => {
    await gateway?.stop();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a first page in the snapshot, and the rest in pages, each model once and in key order', async () => {
    const client = await connect();
    const snapshot = (await client.waitForBroadcast('snapshot', () => true)).data;
    expect(snapshot.models.map((m) => m.id)).toEqual(ids.slice(0, MODEL_FIRST_PAGE));
    expect(snapshot.modelsTotal).toBe(COUNT);
    expect(snapshot.modelsNext).not.toBeNull();

    const rest = expectOk(await client.request('models:list', { cursor: snapshot.modelsNext ?? '', limit: 500 }));
    expect(rest.models.map((m) => m.id)).toEqual(ids.slice(MODEL_FIRST_PAGE, MODEL_FIRST_PAGE + 500));

    const all = await readAll(client, 700);
    expect(all.pages).toBe(3);
    expect(all.total).toBe(COUNT);
    expect(all.models.map((m) => m.id)).toEqual(ids);
  });

  it('filters on the server, with the count of every match', async () => {
    const client = await connect();
    const found = await readAll(client, 4, 'FARM-0190');
    expect(found.models.map((m) => m.id)).toEqual(ids.filter((id) => id.startsWith('farm-0190')));
    expect(found.total).toBe(10);
    expect(found.pages).toBe(3);
    expect(expectOk(await client.request('models:list', { text: 'no such model' }))).toEqual({ models: [], total: 0, nextCursor: null });
  });

  it('refuses a cursor it did not make, and a page over the largest size, with VALIDATION_FAILED', async () => {
    const client = await connect();
    for (const payload of [{ cursor: 'farm-00001' }, { limit: 5001 }]) {
      const reply = await client.request('models:list', payload);
      expect(reply.success ? null : reply.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('sends a second client only what changed: a delta for a new and a gone model, a status for a state change', async () => {
    const first = await connect();
    const second = await connect();
    await first.waitForBroadcast('snapshot', () => true);
    await second.waitForBroadcast('snapshot', () => true);

    const next = [...ids.filter((id) => id !== 'farm-00002'), 'farm-99999'];
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId, catalogue: stableCatalogue(next) });
    for (const client of [first, second]) {
      const delta = await client.waitForBroadcast('models:changed', (b) => b.data.upserted.some((m) => m.id === 'farm-99999'));
      // Only the changed models, never the whole list.
      expect(delta.data.upserted.map((m) => m.id)).toEqual(['farm-99999']);
      expect(delta.data.removed).toEqual([{ nodeId, id: 'farm-00002' }]);
      expect(delta.data.skipped).toEqual([]);
    }

    const state = { id: 'farm-00003', status: 'loading' as const, progress: 0.5, stage: 'text_model', args: [], error: null, updatedAt: Date.now() };
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'model', nodeId, model: state });
    const status = await second.waitForBroadcast('models:status', (b) => b.data.model.id === 'farm-00003');
    expect(status.data).toEqual({ nodeId, model: state });
    // A client that connects now pages the new list.
    const third = await connect();
    const all = await readAll(third, 5000);
    expect(all.models.map((m) => m.id)).toEqual(next);
    expect(all.models.find((m) => m.id === 'farm-00003')?.state.status).toBe('loading');
  });

  it('sends the states of a node starting with every model in a few models:states broadcasts, not one per model', async () => {
    const client = await connect();
    await client.waitForBroadcast('snapshot', () => true);
    const from = client.received.length;
    const updatedAt = Date.now();
    const pipeline = redis.pipeline();
    for (const id of ids) {
      const model = { id, status: 'loaded', progress: null, stage: null, args: [], error: null, updatedAt };
      pipeline.xadd(RedisKeys.statusStream, '*', STREAM_FIELD, JSON.stringify({ kind: 'model', nodeId, model }));
    }
    await pipeline.exec();

    const states = new Map<string, string>();
    const carried = () => client.received.slice(from).filter((r) => r.event === 'models:states' || r.event === 'models:status');
    await waitFor(
      () => {
        for (const r of carried()) {
          const data = (r.payload as BroadcastEnvelope<'models:states' | 'models:status'>).data;
          for (const m of 'models' in data ? data.models : [data.model]) {
            states.set(m.id, m.status);
          }
        }
        return ids.every((id) => states.get(id) === 'loaded');
      },
      { timeoutMs: 60_000, what: `${COUNT} loaded states at the client` },
    );
    // The stream is read 500 entries at a time: a handful of batches, never 2,000 broadcasts.
    expect(carried().length).toBeLessThan(COUNT / 20);
    expect(carried().some((r) => r.event === 'models:states')).toBe(true);
    // What a client reading the list now gets agrees (the model the test before added got no state).
    const all = await readAll(await connect(), 5000);
    expect(all.models.filter((m) => m.state.status !== 'loaded').map((m) => m.id)).toEqual(['farm-99999']);
  });
});
