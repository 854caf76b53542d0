import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  controlJobId,
  controlQueueName,
  controlRunId,
  decodeJobError,
  JobName,
  LogBatchSchema,
  QUEUE_PREFIX,
  RedisKeys,
  StatusEventSchema,
  type JobPayloads,
  type MemoryReport,
  type ModelState,
  type PlacementSettings,
  type StatusEvent,
} from '@llamaproxy/shared';
import { writePlacementModels } from '@llamaproxy/tests/placement-models';
import { freePort, jobOutcome, StreamRecorder, startService, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

const MiB = 1024 * 1024;
/**
 * The RAM budget: with the three smaller models resident (~24 + 63 + 63 MiB measured here), the
 * large one (~160 MiB estimated before its first load, ~154 MiB measured) needs the least recently
 * used medium one and the small one to go, not the last medium one. Each case keeps ten MiB or
 * more of margin either side of its decision.
 */
const BUDGET_MIB = 235;
/** How far an estimate may be from the measured resident memory of these models. */
const ESTIMATE_TOLERANCE = 0.15;

/**
 * Memory-aware placement with a real llama-server on CPU, a RAM budget and generated models of
 * clearly different sizes; driven through the control queue, the gateway's part (settings and
 * recency in Redis) played by the test.
 */
describe('placement', () => {
  const redisUrl = inject('redisUrl');
  const nodeId = `place-${process.pid}-${Date.now()}`;
  let dir: string;
  let modelsDir: string;
  let dataDir: string;
  let port: number;
  let supervisor: ManagedProcess;
  let status: StreamRecorder;
  let logs: StreamRecorder;
  let redis: Redis;
  let queue: Queue;
  let queueEvents: QueueEvents;

  const events = (): StatusEvent[] => status.entries.map((e) => StatusEventSchema.parse(e)).filter((e) => e.nodeId === nodeId);
  const reports = (): MemoryReport[] => events().flatMap((e) => (e.kind === 'memory' ? [e.report] : []));
  const modelEvents = (id: string): ModelState[] => events().flatMap((e) => (e.kind === 'model' && e.model.id === id ? [e.model] : []));
  const waitReport = (predicate: (r: MemoryReport) => boolean, what: string): Promise<MemoryReport> =>
    waitFor(() => reports().reverse().find(predicate), { timeoutMs: 30_000, what });
  const supervisorLogs = (): string[] =>
    logs.entries.flatMap((e) => LogBatchSchema.parse(e).records.filter((r) => r.nodeId === nodeId && r.source === 'supervisor').map((r) => `${r.modelId ?? '-'} ${r.message}`));

  function start(): ManagedProcess {
    return startService('supervisor', {
      REDIS_URL: redisUrl,
      SUPERVISOR_NODE_ID: nodeId,
      LLAMA_SERVER_BIN: inject('llamaServerBin'),
      MODELS_DIR: modelsDir,
      SUPERVISOR_DATA_DIR: dataDir,
      LLAMA_PORT: String(port),
      LLAMA_CTX_SIZE: '2048',
      LLAMA_PARALLEL: '1',
      // One thread per instance: on a small shared machine more threads only contend.
      LLAMA_EXTRA_ARGS: '--threads 1',
      PLACEMENT: 'memory',
      RAM_BUDGET: `${BUDGET_MIB}MiB`,
      PLACEMENT_CHECK_INTERVAL_MS: '200',
      PLACEMENT_INFLIGHT_WAIT_MS: '60000',
      RECONCILE_INTERVAL_MS: '1000',
      LLAMA_STOP_GRACE_MS: '3000',
    });
  }

  async function run<K extends JobName>(name: K, payload: JobPayloads[K]): Promise<{ done: Promise<unknown>; added: number }> {
    const jobId = controlRunId(controlJobId(name, payload));
    const done = jobOutcome(queueEvents, jobId);
    const added = Date.now();
    await queue.add(name, payload, { jobId, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } });
    return { done, added };
  }

  const load = async (modelId: string): Promise<ModelState> => ((await (await run(JobName.modelLoad, { modelId })).done) as { model: ModelState }).model;
  const unload = async (modelId: string): Promise<ModelState> => ((await (await run(JobName.modelUnload, { modelId })).done) as { model: ModelState }).model;

  /** What the gateway does: store the settings, then say so. */
  async function setSettings(settings: PlacementSettings): Promise<void> {
    const text = JSON.stringify(settings);
    await redis.set(RedisKeys.placementSettingsKey, text);
    await redis.publish(RedisKeys.placementSettingsChannel, text);
  }

  /** What the gateway's /v1 path records: the last real request per model (epoch ms). */
  async function setLastUsed(times: Record<string, number>): Promise<void> {
    await redis.hset(RedisKeys.placementLastUsed, Object.fromEntries(Object.entries(times).map(([k, v]) => [k, String(v)])));
  }

  /** Loads `ids` and waits until the report shows each one measured. */
  async function loadMeasured(ids: string[]): Promise<void> {
    for (const id of ids) {
      expect((await load(id)).status).toBe('loaded');
    }
    await waitReport(
      (r) => ids.every((id) => r.models.some((m) => m.modelId === id && m.status === 'loaded') && r.footprints.find((f) => f.modelId === id)?.measured !== null && r.footprints.find((f) => f.modelId === id) !== undefined),
      `${ids.join(', ')} loaded and measured`,
    );
  }

  /** Nothing loaded, default settings, no recency: each case starts from here. */
  async function reset(): Promise<void> {
    await setSettings({ defaultTtlSeconds: 0, models: {} });
    await redis.del(RedisKeys.placementLastUsed);
    for (const state of events().flatMap((e) => (e.kind === 'model' ? [e.model.id] : []))) {
      await unload(state);
    }
    await waitReport((r) => r.models.length === 0, 'nothing resident');
  }

  /**
   * The models that went from resident to unloaded after `since` (epoch ms), in that order. Only
   * transitions count: the router's reconcile repeats an unloaded state later, with a new time.
   */
  const unloadedSince = (since: number): string[] => {
    const last = new Map<string, string>();
    const went: ModelState[] = [];
    for (const e of events()) {
      if (e.kind !== 'model') {
        continue;
      }
      const before = last.get(e.model.id);
      last.set(e.model.id, e.model.status);
      if (e.model.status === 'unloaded' && before !== undefined && before !== 'unloaded' && e.model.updatedAt >= since) {
        went.push(e.model);
      }
    }
    return went.sort((a, b) => a.updatedAt - b.updatedAt).map((m) => m.id);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-placement-'));
    modelsDir = join(dir, 'models');
    dataDir = join(dir, 'data');
    await writePlacementModels(modelsDir);
    port = await freePort();
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    await redis.del(RedisKeys.placementSettingsKey, RedisKeys.placementLastUsed);
    status = new StreamRecorder(redisUrl, RedisKeys.statusStream);
    logs = new StreamRecorder(redisUrl, RedisKeys.logStream);
    supervisor = start();
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    queue = new Queue(controlQueueName(nodeId), { connection, prefix: QUEUE_PREFIX });
    queueEvents = new QueueEvents(controlQueueName(nodeId), { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX });
    await queueEvents.waitUntilReady();
    await waitFor(() => events().some((e) => e.kind === 'llama' && e.status.state === 'running'), { timeoutMs: 60_000, what: 'llama-server running' }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${supervisor.tail()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await supervisor?.stop(20_000);
    await queue?.close();
    await queueEvents?.close();
    await status?.close();
    await logs?.close();
    await redis?.del(RedisKeys.placementSettingsKey, RedisKeys.placementLastUsed);
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the RAM budget, and starts the router without its own autoload and count limit', async () => {
    const report = await waitReport((r) => r.devices.length > 0, 'a memory report');
    expect(report.mode).toBe('memory');
    expect(report.devices).toEqual([expect.objectContaining({ id: 'cpu', kind: 'ram', budgetBytes: BUDGET_MIB * MiB, usedBytes: 0, freeBytes: BUDGET_MIB * MiB })]);
    const running = events().flatMap((e) => (e.kind === 'llama' && e.status.state === 'running' ? [e.status] : [])).at(-1);
    const args = running?.args.join(' ') ?? '';
    expect(args).toContain('--models-max 10000');
    expect(args).toContain('--no-models-autoload');
  });

  it('evicts the least recently used models, in that order and only as many as needed', async () => {
    await reset();
    await loadMeasured(['place-small', 'place-mid-a', 'place-mid-b']);
    // Recency from the gateway's records: mid-a longest ago, then small, mid-b most recently.
    const now = Date.now();
    await setLastUsed({ 'place-mid-a': now, 'place-small': now + 1, 'place-mid-b': now + 2 });
    const since = Date.now();
    expect((await load('place-big')).status).toBe('loaded');
    expect(unloadedSince(since)).toEqual(['place-mid-a', 'place-small']);
    const report = await waitReport((r) => r.models.some((m) => m.modelId === 'place-big' && m.status === 'loaded'), 'big resident');
    expect(report.models.map((m) => m.modelId).sort()).toEqual(['place-big', 'place-mid-b']);
    // The reason is in the log (the forwarded record carries its fields after the message).
    const evictions = (): string[] =>
      supervisorLogs()
        .filter((l) => l.includes('evicting the least recently used model'))
        .map((l) => l.replace(/ \(.*\)$/, ''));
    const lines = await waitFor(() => (evictions().length >= 2 ? evictions() : undefined), { timeoutMs: 10_000, what: 'two evictions in the log' });
    expect(lines).toEqual([
      'place-mid-a evicting the least recently used model to make room for place-big',
      'place-small evicting the least recently used model to make room for place-big',
    ]);
  });

  it('never evicts a pinned model: the next least recently used ones go instead', async () => {
    await reset();
    await setSettings({ defaultTtlSeconds: 0, models: { 'place-mid-a': { pinned: true, ttlSeconds: null, loadOnStartup: false } } });
    await loadMeasured(['place-small', 'place-mid-a', 'place-mid-b']);
    const now = Date.now();
    await setLastUsed({ 'place-mid-a': now, 'place-small': now + 1, 'place-mid-b': now + 2 });
    await waitReport((r) => r.models.some((m) => m.modelId === 'place-mid-a' && m.pinned), 'mid-a pinned in the report');
    const since = Date.now();
    expect((await load('place-big')).status).toBe('loaded');
    expect(unloadedSince(since)).toEqual(['place-small', 'place-mid-b']);
    expect(modelEvents('place-mid-a').at(-1)?.status).toBe('loaded');
  });

  it('refuses a load that can never fit with INSUFFICIENT_MEMORY, saying need, free and what holds the rest', async () => {
    await reset();
    const pin = { pinned: true, ttlSeconds: null, loadOnStartup: false };
    await setSettings({ defaultTtlSeconds: 0, models: { 'place-mid-a': pin, 'place-big': pin } });
    await loadMeasured(['place-mid-a', 'place-big']);
    const since = Date.now();
    const err = await load('place-mid-b').then(
      () => null,
      (e: unknown) => e as Error,
    );
    const info = decodeJobError(err?.message);
    expect(info).toMatchObject({ code: 'INSUFFICIENT_MEMORY' });
    expect(info.message).toMatch(/^place-mid-b needs \d+(\.\d)? MiB on cpu, \d+(\.\d)? MiB free of a 235 MiB budget; held by place-big \(\d+ MiB, pinned\), place-mid-a \(\d+ MiB, pinned\)$/);
    // Nothing was unloaded for it, and it was not loaded.
    expect(unloadedSince(since)).toEqual([]);
    expect(modelEvents('place-mid-b').filter((s) => s.updatedAt >= since && s.status === 'loading')).toEqual([]);
  });

  it('waits for a streamed request to end before evicting the model that serves it', { timeout: 150_000 }, async () => {
    await reset();
    // mid-b is pinned, so the large model's room can only come from mid-a, which is serving a request.
    await setSettings({ defaultTtlSeconds: 0, models: { 'place-mid-b': { pinned: true, ttlSeconds: null, loadOnStartup: false } } });
    await loadMeasured(['place-mid-a', 'place-mid-b']);
    // A long streamed completion on mid-a, straight to llama-server (1500 tokens: seconds on CPU).
    const res = await fetch(`http://127.0.0.1:${port}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'place-mid-a', prompt: 'hello', max_tokens: 1500, ignore_eos: true, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const { done } = await run(JobName.modelLoad, { modelId: 'place-big' });
    // The load waits for the request: the supervisor says so while the stream still runs.
    await waitFor(() => supervisorLogs().some((l) => l.startsWith('place-mid-a waiting for requests to end before evicting it for place-big')), {
      timeoutMs: 30_000,
      what: 'the wait to be logged',
    });
    const waitingReport = await waitReport((r) => r.models.some((m) => m.modelId === 'place-mid-a' && m.inFlight > 0), 'mid-a in flight');
    expect(waitingReport.models.find((m) => m.modelId === 'place-mid-a')?.status).toBe('loaded');
    let text = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) {
        break;
      }
      text += new TextDecoder().decode(chunk.value);
    }
    const streamEnded = Date.now();
    expect(text).toContain('[DONE]');
    expect(((await done) as { model: ModelState }).model.status).toBe('loaded');
    const evicted = modelEvents('place-mid-a').find((s) => s.status === 'unloaded' && s.updatedAt >= waitingReport.sentAt);
    expect(evicted).toBeDefined();
    // Unloaded only once the request had ended: the stream's end reached this test (same host, same
    // clock) no later than about when the supervisor saw the slot go idle.
    expect(evicted?.updatedAt ?? 0).toBeGreaterThanOrEqual(streamEnded - 1000);
    expect(modelEvents('place-mid-b').at(-1)?.status).toBe('loaded');
  });

  it('unloads an idle model after its TTL, counted from its last request, with the reason in the logs', async () => {
    await reset();
    await setSettings({ defaultTtlSeconds: 0, models: { 'place-small': { pinned: false, ttlSeconds: 2, loadOnStartup: false } } });
    await loadMeasured(['place-small', 'place-mid-b']);
    // A request now (the gateway records it) restarts the idle clock.
    const lastRequest = Date.now();
    await setLastUsed({ 'place-small': lastRequest });
    const report = await waitReport((r) => r.models.some((m) => m.modelId === 'place-small' && m.lastUsedAt !== null && m.lastUsedAt >= lastRequest), 'recency seen');
    expect(report.models.find((m) => m.modelId === 'place-small')).toMatchObject({ ttlSeconds: 2, idleUnloadAt: expect.any(Number) });
    const unloaded = await waitFor(() => modelEvents('place-small').find((s) => s.status === 'unloaded' && s.updatedAt >= lastRequest), { timeoutMs: 30_000, what: 'idle unload' });
    // Not before its time to live.
    expect(unloaded.updatedAt - lastRequest).toBeGreaterThanOrEqual(2000);
    // The reason is in the log (logs arrive in batches: wait for it).
    await waitFor(() => supervisorLogs().some((l) => /^place-small unloading an idle model: no request for \d+ s \(TTL 2 s\).*reason=idle/.test(l)), {
      timeoutMs: 10_000,
      what: 'the idle unload in the log',
    });
    // A model without a TTL (default 0 = never) stays.
    expect(modelEvents('place-mid-b').at(-1)?.status).toBe('loaded');
  });

  it('loads the start-up models each time llama-server starts', async () => {
    await reset();
    await setSettings({ defaultTtlSeconds: 0, models: { 'place-small': { pinned: false, ttlSeconds: null, loadOnStartup: true } } });
    const before = Date.now();
    await (await run(JobName.serverRestart, {})).done;
    const loaded = await waitFor(() => modelEvents('place-small').find((s) => s.status === 'loaded' && s.updatedAt >= before), { timeoutMs: 30_000, what: 'place-small loaded after the restart' });
    expect(loaded.status).toBe('loaded');
    expect(modelEvents('place-mid-a').filter((s) => s.status === 'loading' && s.updatedAt >= before)).toEqual([]);
    await waitFor(() => supervisorLogs().some((l) => l.startsWith('place-small loading a start-up model')), { timeoutMs: 10_000, what: 'the start-up load in the log' });
    // The next case restarts the supervisor and expects nothing loaded.
    await setSettings({ defaultTtlSeconds: 0, models: {} });
    await unload('place-small');
  });

  it('stores measured footprints per settings key, close to the estimate, and reuses them after a restart', async () => {
    const stored = JSON.parse(readFileSync(join(dataDir, 'footprints.json'), 'utf8')) as { measured: Record<string, { bytes: { cpu: number } }> };
    const key = 'ctx=2048;np=1;ctk=f16;ctv=f16;ngl=auto';
    for (const id of ['place-small', 'place-mid-a', 'place-mid-b', 'place-big']) {
      expect(stored.measured[`${id}\n${key}`]?.bytes.cpu).toBeGreaterThan(0);
    }
    const before = await waitReport((r) => r.footprints.filter((f) => f.measured !== null).length === 4, 'four measured footprints');
    for (const f of before.footprints) {
      const measured = f.measured?.cpu ?? 0;
      const estimated = f.estimated.cpu ?? 0;
      expect(Math.abs(estimated - measured) / measured, `${f.modelId}: estimated ${estimated}, measured ${measured}`).toBeLessThanOrEqual(ESTIMATE_TOLERANCE);
    }
    // Sizes differ measurably: the large model holds several times the small one.
    const cpu = (id: string): number => before.footprints.find((f) => f.modelId === id)?.measured?.cpu ?? 0;
    expect(cpu('place-big')).toBeGreaterThan(3 * cpu('place-small'));

    await supervisor.stop(20_000);
    const restartedAt = Date.now();
    supervisor = start();
    const after = await waitReport((r) => r.sentAt >= restartedAt && r.footprints.filter((f) => f.measured !== null).length === 4, 'measurements after the restart');
    // Before any load: the stored measurements are what placement counts.
    expect(after.models).toEqual([]);
    expect(after.footprints.find((f) => f.modelId === 'place-big')?.measured).toEqual(stored.measured[`place-big\n${key}`]?.bytes);
  });
});
