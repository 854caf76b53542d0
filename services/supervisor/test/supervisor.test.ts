import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  JobProgressSchema,
  LogBatchSchema,
  QUEUE_PREFIX,
  RedisKeys,
  StatusEventSchema,
  type JobPayloads,
  type LlamaStatus,
  type ModelState,
  type ServerConfig,
  type StatusEvent,
} from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { freePort, jobOutcome, listRouterModels, StreamRecorder, startService, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

/**
 * The supervisor as its container runs it: a real Redis, a real llama-server in router mode,
 * generated tiny models, driven only through its BullMQ queue and observed only through Redis.
 */
describe('supervisor', () => {
  const redisUrl = inject('redisUrl');
  const nodeId = `node-${process.pid}-${Date.now()}`;
  let dir: string;
  let modelsDir: string;
  let port: number;
  let supervisor: ManagedProcess;
  let status: StreamRecorder;
  let logs: StreamRecorder;
  let queue: Queue;
  let queueEvents: QueueEvents;

  const events = (): StatusEvent[] =>
    status.entries.map((e) => StatusEventSchema.parse(e)).filter((e) => e.nodeId === nodeId);
  const llamaStatuses = (): LlamaStatus[] => events().flatMap((e) => (e.kind === 'llama' ? [e.status] : []));
  const modelEvents = (id: string): ModelState[] => events().flatMap((e) => (e.kind === 'model' && e.model.id === id ? [e.model] : []));
  const waitForLlama = (predicate: (s: LlamaStatus) => boolean, what: string): Promise<LlamaStatus> =>
    waitFor(() => llamaStatuses().reverse().find(predicate), { timeoutMs: 60_000, what });
  const waitForModel = (id: string, predicate: (s: ModelState) => boolean, what: string, after = 0): Promise<ModelState> =>
    waitFor(() => modelEvents(id).slice(after).find(predicate), { timeoutMs: 60_000, what });

  /**
   * Queues a control job and follows it through QueueEvents. The listeners are in place before the
   * job is added: a job that fails at once (bad input) is removed before `waitUntilFinished` could
   * look at it.
   */
  async function run<K extends JobName>(name: K, payload: JobPayloads[K], opts: { attempts?: number } = {}) {
    // As the gateway queues it: a unique run id, the intent key as deduplication id.
    const jobId = controlRunId(controlJobId(name, payload));
    const done = jobOutcome(queueEvents, jobId);
    const job = await queue.add(name, payload, {
      jobId,
      deduplication: { id: controlJobId(name, payload) },
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 100 },
      ...opts,
    });
    return { job, done };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-supervisor-'));
    modelsDir = join(dir, 'models');
    await writeDemoModels(modelsDir, { count: 2 });
    // A file that is not a GGUF at all: reported with its reason, never loaded.
    writeFileSync(join(modelsDir, 'broken.gguf'), 'this is not a gguf file');
    port = await freePort();
    status = new StreamRecorder(redisUrl, RedisKeys.statusStream);
    logs = new StreamRecorder(redisUrl, RedisKeys.logStream);
    supervisor = startService('supervisor', {
      REDIS_URL: redisUrl,
      SUPERVISOR_NODE_ID: nodeId,
      LLAMA_SERVER_BIN: inject('llamaServerBin'),
      MODELS_DIR: modelsDir,
      SUPERVISOR_DATA_DIR: join(dir, 'data'),
      LLAMA_PORT: String(port),
      LLAMA_MODELS_MAX: '1',
      // llama.cpp's own count-based LRU (placement's memory mode has its own test).
      PLACEMENT: 'count',
      LLAMA_CTX_SIZE: '512',
      LLAMA_MODELS_AUTOLOAD: 'false',
      RESTART_BACKOFF_MIN_MS: '200',
      MODELS_SCAN_INTERVAL_MS: '500',
      RECONCILE_INTERVAL_MS: '1000',
      LLAMA_STOP_GRACE_MS: '3000',
    });
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    queue = new Queue(controlQueueName(nodeId), { connection, prefix: QUEUE_PREFIX });
    queueEvents = new QueueEvents(controlQueueName(nodeId), { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX });
    await queueEvents.waitUntilReady();
    await waitForLlama((s) => s.state === 'running', 'llama-server running').catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${supervisor.tail()}`);
    });
  });

  afterAll(async () => {
    await supervisor?.stop(20_000);
    await queue?.close();
    await queueEvents?.close();
    await status?.close();
    await logs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the catalogue with GGUF metadata, and a corrupt file as an error with its reason', async () => {
    const catalogue = await status.waitFor((e) => {
      const event = StatusEventSchema.parse(e);
      return event.kind === 'catalogue' && event.nodeId === nodeId ? event.catalogue : undefined;
    });
    const byId = new Map(catalogue.entries.map((entry) => [entry.id, entry]));
    expect([...byId.keys()].sort()).toEqual(['broken', 'tiny-llama-a', 'tiny-llama-b']);
    expect(byId.get('tiny-llama-a')).toMatchObject({ valid: true, architecture: 'llama', quantization: 'F16', contextLength: 2048 });
    expect(byId.get('tiny-llama-b')).toMatchObject({ valid: true, quantization: 'F32' });
    expect(byId.get('tiny-llama-a')?.parameterCount).toBeGreaterThan(10_000);
    expect(byId.get('broken')).toMatchObject({ valid: false, invalidReason: expect.stringContaining('not a GGUF file') });
    const broken = await waitForModel('broken', (s) => s.status === 'error', 'broken model in error');
    expect(broken.error?.message).toContain('bad magic');
  });

  it('loads a model through the queue, reporting progress, and answers a completion', async () => {
    const progress: unknown[] = [];
    queueEvents.on('progress', ({ data }) => progress.push(data));
    const { done } = await run(JobName.modelLoad, { modelId: 'tiny-llama-a' });
    const result = (await done) as { model: ModelState };
    expect(result.model).toMatchObject({ id: 'tiny-llama-a', status: 'loaded' });
    await waitForModel('tiny-llama-a', (s) => s.status === 'loading', 'loading reported');
    await waitForModel('tiny-llama-a', (s) => s.status === 'loaded', 'loaded reported');
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      expect(JobProgressSchema.safeParse(p).success).toBe(true);
    }

    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-llama-a', messages: [{ role: 'user', content: 'hello' }], max_tokens: 8 }),
    });
    expect(res.status).toBe(200);
  });

  it('answers a load of a loaded model at once, so a retried or twice-run job does no harm', async () => {
    const before = modelEvents('tiny-llama-a').length;
    const started = Date.now();
    const { done } = await run(JobName.modelLoad, { modelId: 'tiny-llama-a' });
    expect(((await done) as { model: ModelState }).model.status).toBe('loaded');
    expect(Date.now() - started).toBeLessThan(5_000);
    // Nothing was loaded again: no new loading state was reported.
    expect(modelEvents('tiny-llama-a').slice(before).filter((s) => s.status === 'loading')).toEqual([]);
  });

  it('evicts the least recently used model when --models-max is reached, and reports it', async () => {
    const before = modelEvents('tiny-llama-a').length;
    const { done } = await run(JobName.modelLoad, { modelId: 'tiny-llama-b' });
    expect(((await done) as { model: ModelState }).model.status).toBe('loaded');
    await waitForModel('tiny-llama-a', (s) => s.status === 'unloaded', 'tiny-llama-a evicted', before);
    const router = await listRouterModels(`http://127.0.0.1:${port}`);
    expect(router.find((m) => m.id === 'tiny-llama-a')?.status.value).toBe('unloaded');
    expect(router.find((m) => m.id === 'tiny-llama-b')?.status.value).toBe('loaded');
  });

  it('unloads a model through the queue', async () => {
    const { done } = await run(JobName.modelUnload, { modelId: 'tiny-llama-b' });
    expect(((await done) as { model: ModelState }).model.status).toBe('unloaded');
  });

  it('fails a job for an unknown model at once, without retries', async () => {
    const { job, done } = await run(JobName.modelLoad, { modelId: 'no-such-model' }, { attempts: 3 });
    const err = await done.then(() => null, (e: unknown) => e as Error);
    expect(decodeJobError(err?.message)).toMatchObject({ code: 'MODEL_NOT_FOUND' });
    // Three attempts were allowed; UnrecoverableError made it one.
    const failed = await queue.getJob(job.id ?? '');
    expect(failed?.attemptsMade).toBe(1);
    expect(await failed?.getState()).toBe('failed');
  });

  it('refuses to load a corrupt model with its reason, while the others keep working', async () => {
    const { done } = await run(JobName.modelLoad, { modelId: 'broken' });
    const err = await done.then(() => null, (e: unknown) => e as Error);
    expect(decodeJobError(err?.message)).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('bad magic') });
    const ok = await run(JobName.modelLoad, { modelId: 'tiny-llama-a' });
    expect(((await ok.done) as { model: ModelState }).model.status).toBe('loaded');
  });

  it('streams llama-server output and its own events as structured log records with node and model', async () => {
    const batch = await logs.waitFor((e) => {
      const parsed = LogBatchSchema.parse(e);
      return parsed.records.some((r) => r.nodeId === nodeId && r.modelId === 'tiny-llama-a') ? parsed : undefined;
    });
    const record = batch.records.find((r) => r.modelId === 'tiny-llama-a');
    expect(record).toMatchObject({ source: 'llama-server', nodeId, level: expect.stringMatching(/^(error|warn|info|debug)$/) });
    // The supervisor's own events are there too.
    const own = await logs.waitFor((e) => LogBatchSchema.parse(e).records.find((r) => r.nodeId === nodeId && r.source === 'supervisor' && r.message.startsWith('job done')));
    expect(own.message).toContain('job=model.load');
  });

  it('recovers from kill -9 of llama-server: reports the crash and restarts it', async () => {
    const running = await waitForLlama((s) => s.state === 'running', 'running');
    const pid = running.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid as number, 'SIGKILL');
    const crashed = await waitForLlama((s) => s.state === 'crashed' && s.lastExit?.signal === 'SIGKILL', 'crash reported');
    expect(crashed.restarts).toBeGreaterThanOrEqual(1);
    const back = await waitForLlama((s) => s.state === 'running' && s.pid !== pid, 'restarted');
    expect(back.restarts).toBeGreaterThanOrEqual(1);
    // And it works again.
    const { done } = await run(JobName.modelLoad, { modelId: 'tiny-llama-b' });
    expect(((await done) as { model: ModelState }).model.status).toBe('loaded');
  });

  const serverConfig = (patch: Partial<ServerConfig>): ServerConfig => ({
    modelsDir,
    modelsMax: 1,
    parallel: 1,
    threadsHttp: -1,
    ctxSize: 512,
    gpuLayers: 'auto',
    host: '127.0.0.1',
    port,
    autoload: false,
    extraArgs: [],
    ...patch,
  });

  it('applies a new context size by restarting llama-server with the new flag', async () => {
    const { done } = await run(JobName.configApply, { config: serverConfig({ ctxSize: 1024 }), revision: 2 });
    const result = (await done) as { status: LlamaStatus; superseded: boolean };
    expect(result.superseded).toBe(false);
    expect(result.status.state).toBe('running');
    expect(result.status.args.join(' ')).toContain('--ctx-size 1024');
    const router = await listRouterModels(`http://127.0.0.1:${port}`);
    const args = router.find((m) => m.id === 'tiny-llama-a')?.status.args ?? [];
    expect(args[args.indexOf('--ctx-size') + 1]).toBe('1024');
  });

  it('applies configurations in revision order: an older revision after a newer one is skipped', async () => {
    const { done } = await run(JobName.configApply, { config: serverConfig({ ctxSize: 2048 }), revision: 1 });
    const result = (await done) as { status: LlamaStatus; revision: number; superseded: boolean };
    expect(result).toMatchObject({ revision: 1, superseded: true });
    expect(result.status.args.join(' ')).toContain('--ctx-size 1024');
    const router = await listRouterModels(`http://127.0.0.1:${port}`);
    const args = router.find((m) => m.id === 'tiny-llama-a')?.status.args ?? [];
    expect(args[args.indexOf('--ctx-size') + 1]).toBe('1024');
  });

  it('rejects a configuration with an unknown flag and keeps running the old one', async () => {
    const { done } = await run(JobName.configApply, { config: serverConfig({ ctxSize: 1024, extraArgs: ['--no-such-flag'] }), revision: 3 });
    const err = await done.then(() => null, (e: unknown) => e as Error);
    expect(decodeJobError(err?.message)).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--no-such-flag') });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });

  it('refuses --log-file pointed at a model file, in the configuration and in a preset, and leaves the file intact', async () => {
    const model = join(modelsDir, 'tiny-llama-a.gguf');
    const before = readFileSync(model);
    const config = await run(JobName.configApply, { config: serverConfig({ extraArgs: ['--log-file', model] }), revision: 4 }, { attempts: 3 });
    const configErr = await config.done.then(() => null, (e: unknown) => e as Error);
    expect(decodeJobError(configErr?.message)).toMatchObject({ code: 'ARG_NOT_ALLOWED', message: expect.stringContaining('--log-file') });
    const preset = await run(JobName.presetApply, { preset: { global: { 'log-file': model }, sections: [] }, revision: 1 });
    const presetErr = await preset.done.then(() => null, (e: unknown) => e as Error);
    expect(decodeJobError(presetErr?.message)).toMatchObject({ code: 'ARG_NOT_ALLOWED', message: expect.stringContaining('[*] log-file') });

    // llama-server truncates its log file when it starts: a restart shows whether one got through.
    const restart = await run(JobName.serverRestart, {});
    expect(((await restart.done) as { status: LlamaStatus }).status.state).toBe('running');
    expect(readFileSync(model).equals(before)).toBe(true);
  });

  it('stops on SIGTERM and leaves no llama-server behind', async () => {
    const running = await waitForLlama((s) => s.state === 'running', 'running');
    supervisor.kill('SIGTERM');
    await supervisor.exited;
    expect(supervisor.exitCode).toBe(0);
    expect(() => process.kill(running.pid as number, 0)).toThrow();
    await waitFor(async () => fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true), { what: 'port closed' });
  });
});
