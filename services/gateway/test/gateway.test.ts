import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisKeys, type ResponseEnvelope } from '@llamaproxy/shared';
import { expectOk, freePort, publishToStream, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';
import { catalogue, llamaStatus, logRecords, sample } from './fixtures.js';

/**
 * The gateway as a real process: real socket.io-client connections, a real Redis (its own
 * database index, so its streams are this file's alone) and a real SQLite file.
 */
describe('gateway', () => {
  const redisUrl = `${inject('redisUrl')}/3`;
  const nodeId = 'gw-node';
  let dir: string;
  let port: number;
  let gateway: ManagedProcess;
  let redis: Redis;
  const clients: TestClient[] = [];

  const url = (): string => `http://127.0.0.1:${port}`;
  const connect = async (): Promise<TestClient> => {
    const client = await TestClient.connect(url());
    clients.push(client);
    return client;
  };
  const startGateway = async (): Promise<void> => {
    gateway = startService('gateway', {
      AUTH_MODE: 'none',
      REDIS_URL: redisUrl,
      DATA_DIR: dir,
      GATEWAY_PORT: String(port),
      GATEWAY_HOST: '127.0.0.1',
      SUPERVISOR_NODE_ID: nodeId,
      METRICS_RETENTION_PRUNE_MS: '500',
    });
    await waitFor(async () => {
      if (!gateway.running) {
        throw new Error('gateway exited');
      }
      return (await fetch(`${url()}/readyz`)).ok;
    }, { timeoutMs: 30_000, what: 'gateway ready' }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${gateway.tail()}`);
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-gateway-'));
    port = await freePort();
    redis = new Redis(redisUrl);
    await redis.flushdb();
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId, catalogue: catalogue(nodeId, ['alpha', 'beta']) });
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'llama', nodeId, status: llamaStatus(nodeId) });
    await startGateway();
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

  it('answers health and readiness probes', async () => {
    expect((await fetch(`${url()}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${url()}/readyz`)).json()).toMatchObject({ redis: true, database: true });
  });

  it('sends a full snapshot on connect, with the catalogue and llama-server status reported through Redis', async () => {
    const client = await connect();
    const snapshot = await client.waitForBroadcast('snapshot', (s) => s.data.models.length === 2);
    expect(snapshot.data.models.map((m) => m.id).sort()).toEqual(['alpha', 'beta']);
    expect(snapshot.data.models[0]).toMatchObject({ architecture: 'llama', quantization: 'F16', contextLength: 2048, sizeBytes: 224_800 });
    expect(snapshot.data.llama).toEqual([expect.objectContaining({ nodeId, state: 'running' })]);
    expect(snapshot.data.config.modelsDir).toBeTruthy();
  });

  it('answers a request through the ack with the envelope and the requestId', async () => {
    const client = await connect();
    const response = await client.request('models:list', { requestId: 'req-1' });
    expect(response).toMatchObject({ type: 'response', event: 'models:list', success: true, requestId: 'req-1' });
    expect(expectOk(response).models).toHaveLength(2);
    expect(typeof response.timestamp).toBe('number');
  });

  it('answers as `<event>:result` to the sender only when no ack is passed', async () => {
    const sender = await connect();
    const other = await connect();
    (sender.socket.emit as (ev: string, payload: unknown) => void)('models:get', { modelId: 'alpha', requestId: 'req-2' });
    const result = await waitFor(() => sender.received.find((r) => r.event === 'models:get:result'), { what: 'models:get:result' });
    expect(result.payload).toMatchObject({ type: 'response', event: 'models:get', success: true, requestId: 'req-2', data: { model: { id: 'alpha' } } });
    // Give the other client every chance to (wrongly) receive it.
    await other.request('settings:get', {});
    expect(other.received.some((r) => r.event === 'models:get:result')).toBe(false);
  });

  it('rejects bad payloads with VALIDATION_FAILED and changes nothing', async () => {
    const client = await connect();
    const before = await client.request('settings:get', {});
    const bad = await client.request('models:load', { modelId: 42 as unknown as string, requestId: 'bad-1' });
    expect(bad).toMatchObject({ success: false, requestId: 'bad-1', error: { code: 'VALIDATION_FAILED' } });
    const badSettings = await client.request('settings:update', { settings: { metricsIntervalMs: 5 }, revision: expectOk(before).revision });
    expect(badSettings).toMatchObject({ success: false, error: { code: 'VALIDATION_FAILED', message: expect.stringContaining('metricsIntervalMs') } });
    const after = await client.request('settings:get', {});
    expect(expectOk(after)).toEqual(expectOk(before));
  });

  it('answers an unknown model and an unknown event with stable codes, without crashing', async () => {
    const client = await connect();
    expect(await client.request('models:get', { modelId: 'nope' })).toMatchObject({ success: false, error: { code: 'MODEL_NOT_FOUND' } });
    const unknown = await (client.socket.timeout(5000).emitWithAck as unknown as (ev: string, p: unknown) => Promise<ResponseEnvelope>).call(
      client.socket.timeout(5000),
      'models:explode',
      {},
    );
    expect(unknown).toMatchObject({ success: false, error: { code: 'UNKNOWN_EVENT' } });
    expect((await fetch(`${url()}/healthz`)).status).toBe(200);
  });

  it('fails a control request at once with SUPERVISOR_UNAVAILABLE when no supervisor serves the node', async () => {
    const client = await connect();
    const response = await client.request('models:load', { modelId: 'alpha' });
    expect(response).toMatchObject({ success: false, error: { code: 'SUPERVISOR_UNAVAILABLE' } });
  });

  it('stores and broadcasts log lines to every client, and serves them by query', async () => {
    const a = await connect();
    const b = await connect();
    await publishToStream(redis, RedisKeys.logStream, { records: logRecords(nodeId, 3, 'broadcast') });
    for (const client of [a, b]) {
      const envelope = await client.waitForBroadcast('logs:entry', (e) => e.data.entries.some((x) => x.message === 'broadcast 2'));
      expect(envelope.data.entries.map((e) => e.message)).toEqual(['broadcast 0', 'broadcast 1', 'broadcast 2']);
      expect(envelope.seq).toBeGreaterThan(0);
    }
    const page = await a.request('logs:query', { text: 'broadcast', limit: 2 });
    expect(expectOk(page).entries.map((e) => e.message)).toEqual(['broadcast 2', 'broadcast 1']);
    expect(expectOk(page).hasMore).toBe(true);
  });

  it('lets a client that was away resume from its cursors without missing a log line', async () => {
    const client = await connect();
    const snapshot = await client.waitForBroadcast('snapshot');
    const cursors = snapshot.data.cursors;
    client.close();
    const watcher = await connect();
    for (let i = 0; i < 3; i++) {
      await publishToStream(redis, RedisKeys.logStream, { records: logRecords(nodeId, 4, `away-${i}`) });
    }
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'llama', nodeId, status: llamaStatus(nodeId, 'crashed') });
    await watcher.waitForBroadcast('llama:status', (e) => e.data.status.state === 'crashed');
    await waitFor(async () => {
      const r = await watcher.request('logs:query', { text: 'away-2 3', limit: 1 });
      return r.success && r.data.entries.length === 1;
    }, { what: 'last missed line stored' });

    const back = await connect();
    const resumed = { data: expectOk(await back.request('snapshot:get', { cursors })) };
    const missed = resumed.data.logs.filter((e) => e.message.startsWith('away-'));
    expect(missed.map((e) => e.message)).toEqual([0, 1, 2].flatMap((i) => [0, 1, 2, 3].map((j) => `away-${i} ${j}`)));
    // No gap: every id after the cursor is there, in order.
    const ids = resumed.data.logs.map((e) => e.id);
    expect(ids[0]).toBe(cursors.logId + 1);
    expect(ids).toEqual(ids.map((_, i) => cursors.logId + 1 + i));
    expect(resumed.data.llama[0]?.state).toBe('crashed');
    expect(resumed.data.cursors.eventSeq).toBeGreaterThan(cursors.eventSeq);
  });

  it('stores metrics as raw, per-minute and per-hour tiers with min/avg/max', async () => {
    const client = await connect();
    // Relative to now (the gateway prunes by the wall clock: a fixed date falls out of the raw
    // tier's 24 h retention days later), aligned to an hour so the roll-up buckets are exact.
    const hourMs = 3_600_000;
    const t0 = Math.floor(Date.now() / hourMs) * hourMs - hourMs;
    const values = [10, 20, 30, 40, 50, 60];
    for (const [i, cpu] of values.entries()) {
      // Two samples per minute over three minutes.
      await publishToStream(redis, RedisKeys.metricsStream, { sample: sample(nodeId, t0 + i * 30_000, cpu) });
    }
    await client.waitForBroadcast('metrics:update', (e) => e.data.sample.ts === t0 + 150_000);
    const range = { from: t0, to: t0 + 3 * 60_000, series: ['cpu.usagePct'] };
    const raw = await client.request('metrics:history', { ...range, resolution: 'raw' });
    expect(expectOk(raw).series['cpu.usagePct']?.map((p) => p.avg)).toEqual(values);
    const minute = await client.request('metrics:history', { ...range, resolution: 'minute' });
    expect(expectOk(minute).series['cpu.usagePct']).toEqual([
      { ts: t0, min: 10, max: 20, avg: 15 },
      { ts: t0 + 60_000, min: 30, max: 40, avg: 35 },
      { ts: t0 + 120_000, min: 50, max: 60, avg: 55 },
    ]);
    const hour = await client.request('metrics:history', { ...range, resolution: 'hour' });
    expect(expectOk(hour).series['cpu.usagePct']).toEqual([{ ts: t0, min: 10, max: 60, avg: 35 }]);
    const auto = await client.request('metrics:history', { from: t0 - 30 * 86_400_000, to: t0, series: ['cpu.usagePct'] });
    expect(expectOk(auto).resolution).toBe('hour');
  });

  it('prunes each tier by its retention', async () => {
    const client = await connect();
    const old = Date.now() - 3 * 86_400_000; // older than raw (24 h) and minute... kept by hour (365 d)
    await publishToStream(redis, RedisKeys.metricsStream, { sample: sample(nodeId, old, 77) });
    await client.waitForBroadcast('metrics:update', (e) => e.data.sample.ts === old);
    const range = { from: old - 1000, to: old + 1000, series: ['cpu.usagePct'] };
    await waitFor(async () => {
      const raw = await client.request('metrics:history', { ...range, resolution: 'raw' });
      return raw.success && raw.data.series['cpu.usagePct']?.length === 0;
    }, { what: 'raw point pruned' });
    const hour = await client.request('metrics:history', { from: old - 3_600_000, to: old, series: ['cpu.usagePct'], resolution: 'hour' });
    expect(expectOk(hour).series['cpu.usagePct']?.map((p) => p.max)).toContain(77);
  });

  it('persists settings, broadcasts the change, and keeps everything across a gateway restart', async () => {
    const a = await connect();
    const b = await connect();
    const { revision } = expectOk(await a.request('settings:get', {}));
    const updated = await a.request('settings:update', { settings: { theme: 'dark', metricsIntervalMs: 5000 }, revision });
    expect(updated).toMatchObject({ success: true, data: { settings: { theme: 'dark', metricsIntervalMs: 5000 } } });
    await b.waitForBroadcast('settings:updated', (e) => e.data.settings.theme === 'dark');
    // Kept in Redis too, for services (the metrics collector) that start after the change.
    expect(JSON.parse((await redis.get(RedisKeys.settingsKey)) ?? '{}')).toMatchObject({ metricsIntervalMs: 5000 });
    const logsBefore = await a.request('logs:query', { limit: 5000 });

    a.close();
    b.close();
    gateway.kill('SIGTERM');
    await gateway.exited;
    expect(gateway.exitCode).toBe(0);
    await startGateway();

    const c = await connect();
    const snapshot = await c.waitForBroadcast('snapshot');
    expect(snapshot.data.settings).toMatchObject({ theme: 'dark', metricsIntervalMs: 5000 });
    expect(snapshot.data.models.map((m) => m.id).sort()).toEqual(['alpha', 'beta']);
    const logsAfter = await c.request('logs:query', { limit: 5000 });
    expect(expectOk(logsAfter).entries.length).toBe(expectOk(logsBefore).entries.length);
  });
});
