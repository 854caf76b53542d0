import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PlacementSettingsSchema, RedisKeys, type MemoryReport, type OpenAiErrorBody } from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { expectError, expectOk, freePort, startService, TestClient, waitFor, waitForModelStatus, type ManagedProcess } from '@llamaproxy/tests/harness';

/**
 * Memory-aware placement, the gateway's side, end to end: a real gateway, a real supervisor with
 * PLACEMENT=memory (so llama-server's own autoload is off) and a RAM budget, a real llama-server
 * with generated models, real Redis and SQLite. The settings reach the supervisor through Redis;
 * `/v1` loads a model that is not loaded before it forwards (one load for concurrent requests);
 * a model that can never fit is refused in OpenAI's error shape with what holds the memory.
 */
describe('placement through the gateway (settings, /v1 load on demand, memory reports)', () => {
  const redisUrl = `${inject('redisUrl')}/11`;
  const nodeId = 'placement-node';
  const KEY = 'placement-env-key-0123456789';
  const [A, B, C] = ['tiny-llama-a', 'tiny-llama-b', 'tiny-llama-c'];
  const CHAT = { messages: [{ role: 'user', content: 'hello there' }], max_tokens: 8, temperature: 0, seed: 1 };
  let dir: string;
  let gateway: ManagedProcess;
  let supervisor: ManagedProcess;
  let client: TestClient;
  let observer: TestClient;
  let redis: Redis;
  let url: string;
  let llamaUrl: string;

  const chat = (model: string): Promise<Response> =>
    fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model, ...CHAT }),
    });

  /** The newest memory report the observer was sent, once `predicate` holds for it. */
  const report = (predicate: (r: MemoryReport) => boolean, what: string): Promise<MemoryReport> =>
    waitFor(
      () => {
        const last = observer.broadcasts('memory:update').at(-1)?.data.report;
        return last !== undefined && predicate(last) ? last : undefined;
      },
      { timeoutMs: 30_000, what },
    );

  const status = async (modelId: string): Promise<string> => expectOk(await client.request('models:get', { modelId })).model.state.status;
  /** The gateway learns a model's state from the supervisor's stream, which may trail the /v1 answer a little. */
  const reaches = (modelId: string, wanted: string): Promise<unknown> =>
    waitFor(async () => (await status(modelId)) === wanted, { timeoutMs: 10_000, what: `${modelId} ${wanted} on the gateway` });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-placement-'));
    const modelsDir = join(dir, 'models');
    await writeDemoModels(modelsDir, { count: 3 });
    const llamaPort = String(await freePort());
    const gatewayPort = await freePort();
    url = `http://127.0.0.1:${gatewayPort}`;
    llamaUrl = `http://127.0.0.1:${llamaPort}`;
    const shared = { REDIS_URL: redisUrl, SUPERVISOR_NODE_ID: nodeId, MODELS_DIR: modelsDir, LLAMA_PORT: llamaPort, LLAMA_CTX_SIZE: '512' };
    redis = new Redis(redisUrl);
    await redis.flushdb();
    supervisor = startService('supervisor', {
      ...shared,
      LLAMA_SERVER_BIN: inject('llamaServerBin'),
      SUPERVISOR_DATA_DIR: join(dir, 'supervisor'),
      PLACEMENT: 'memory',
      RAM_BUDGET: '4GiB',
    });
    gateway = startService('gateway', {
      ...shared,
      AUTH_MODE: 'none',
      DATA_DIR: join(dir, 'gateway'),
      GATEWAY_PORT: String(gatewayPort),
      GATEWAY_HOST: '127.0.0.1',
      LLAMA_SERVER_URL: `http://127.0.0.1:${llamaPort}`,
      API_KEYS: KEY,
    });
    await waitFor(async () => (await fetch(`${url}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: 'gateway ready' });
    client = await TestClient.connect(url);
    observer = await TestClient.connect(url);
    await waitFor(
      async () => {
        const snapshot = expectOk(await client.request('snapshot:get', {}));
        return snapshot.models.length === 3 && snapshot.llama[0]?.state === 'running' && snapshot.memory?.some((r) => r.nodeId === nodeId && r.mode === 'memory') === true;
      },
      { timeoutMs: 90_000, what: 'catalogue, running llama-server and a memory report' },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- supervisor\n${supervisor.tail()}\n--- gateway\n${gateway.tail()}`);
    });
  }, 120_000);

  afterAll(async () => {
    client?.close();
    observer?.close();
    redis?.disconnect();
    await gateway?.stop();
    await supervisor?.stop(20_000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores placement settings, hands them to the supervisor through Redis, broadcasts and audits them; a stale edit is a CONFLICT', async () => {
    const start = expectOk(await client.request('placement:get', {}));
    expect(start).toEqual({ settings: { defaultTtlSeconds: 0, models: {} }, revision: 0 });
    const saved = expectOk(
      await client.request('placement:update', { revision: 0, defaultTtlSeconds: 3600, models: { [A]: { pinned: true, ttlSeconds: null, loadOnStartup: false } } }),
    );
    expect(saved).toEqual({ revision: 1, settings: { defaultTtlSeconds: 3600, models: { [A]: { pinned: true, ttlSeconds: null, loadOnStartup: false } } } });
    const stored = PlacementSettingsSchema.parse(JSON.parse((await redis.get(RedisKeys.placementSettingsKey)) ?? 'null'));
    expect(stored).toEqual(saved.settings);
    await observer.waitForBroadcast('placement:updated', (e) => e.data.revision === 1);
    expect(expectOk(await observer.request('snapshot:get', {})).placement).toEqual(saved);
    const stale = await client.request('placement:update', { revision: 0, defaultTtlSeconds: 1 });
    expectError(stale, 'CONFLICT');
    expect(!stale.success && stale.error.current).toEqual({ document: 'placement', revision: 1, value: saved.settings });
    // Settings for a model no node lists are refused; clearing them is not.
    expectError(await client.request('placement:update', { revision: 1, models: { 'no-such-model': { pinned: true, ttlSeconds: null, loadOnStartup: false } } }), 'MODEL_NOT_FOUND');
    const audit = expectOk(await client.request('audit:query', { event: 'placement:update' }));
    expect(audit.entries.map((e) => e.outcome).sort()).toEqual(['error', 'error', 'ok']);
  });

  it('answers a /v1 request for a model that is not loaded: loads it through the supervisor first', async () => {
    expect(await status(A)).toBe('unloaded');
    const res = await chat(A);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: { message: { content: string } }[] };
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    await reaches(A, 'loaded');
    // The recency feed: the request is the model's last use.
    const lastUsed = Number(await waitFor(async () => redis.hget(RedisKeys.placementLastUsed, A), { timeoutMs: 10_000, what: 'last-used of A' }));
    expect(Date.now() - lastUsed).toBeLessThan(60_000);
    // The supervisor got the settings (A pinned) and reports A resident, with its bytes.
    const withA = await report((r) => r.models.some((m) => m.modelId === A && m.status === 'loaded'), 'memory report with A loaded');
    expect(withA.models.find((m) => m.modelId === A)).toMatchObject({ pinned: true });
    expect(withA.models.find((m) => m.modelId === A)?.bytes.cpu).toBeGreaterThan(0);
    expect(withA.devices.map((d) => d.id)).toEqual(['cpu']);
    expect(withA.devices[0]?.budgetBytes).toBe(4 * 1024 ** 3);
  });

  it('loads once for two concurrent requests for the same unloaded model', async () => {
    expect(await status(B)).toBe('unloaded');
    const before = observer.broadcasts('jobs:progress').length;
    const [one, two] = await Promise.all([chat(B), chat(B)]);
    expect([one.status, two.status]).toEqual([200, 200]);
    const queued = observer
      .broadcasts('jobs:progress')
      .slice(before)
      .filter((e) => e.data.job.subject === B && e.data.job.name === 'model.load' && e.data.state === 'queued');
    expect(queued).toHaveLength(1);
    const logs = expectOk(await client.request('logs:query', { source: 'gateway', text: `load on demand (/v1): ${B}` }));
    expect(logs.entries).toHaveLength(1);
    await reaches(B, 'loaded');
  });

  it('loads again a model unloaded a moment after a request saw it loaded (no stale status)', async () => {
    expect((await chat(B)).status).toBe(200);
    // Unloaded behind the gateway's back, at once (as an eviction for another model would).
    expect((await fetch(`${llamaUrl}/models/unload`, { method: 'POST', body: JSON.stringify({ model: B }) })).status).toBe(200);
    await waitForModelStatus(llamaUrl, B, 'unloaded');
    const res = await chat(B);
    expect(res.status).toBe(200);
    await reaches(B, 'loaded');
  });

  it('refuses a model that can never fit with 503 insufficient_memory, saying what it needs, what is free and what holds it', async () => {
    // A context of 16M cells makes C's KV cache alone far larger than the 4 GiB budget.
    const { revision } = expectOk(await client.request('models:settings:get', { modelId: C }));
    expectOk(await client.request('models:settings:update', { modelId: C, revision, settings: { 'ctx-size': '16777216' } }));
    await observer.waitForBroadcast('presets:updated', (e) => e.data.ini.includes(`[${C}]`), { timeoutMs: 30_000 });
    const res = await chat(C);
    expect(res.status).toBe(503);
    const body = (await res.json()) as OpenAiErrorBody;
    expect(body.error).toMatchObject({ code: 'insufficient_memory', type: 'api_error', param: 'model' });
    expect(body.error.message).toMatch(new RegExp(`${C} needs [\\d.]+ GiB on cpu, [\\d.]+ (GiB|MiB) free of a 4.0 GiB budget; held by .*${A} \\([\\d.]+ (KiB|MiB|GiB), pinned\\)`));
    expect(await status(C)).toBe('unloaded');
    expect(await status(A)).toBe('loaded');
  });
});
