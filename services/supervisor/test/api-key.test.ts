import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  controlJobId,
  controlQueueName,
  JobName,
  MetricsEventSchema,
  QUEUE_PREFIX,
  RedisKeys,
  StatusEventSchema,
  type LlamaStatus,
  type ModelState,
} from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { freePort, StreamRecorder, startService, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

const MODEL = 'tiny-llama-a';

/** Command line and environment of every process whose command line mentions `needle`. */
function processesMentioning(needle: string): { pid: number; cmdline: string; environ: string }[] {
  const found: { pid: number; cmdline: string; environ: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(needle)) {
        found.push({ pid: Number(entry), cmdline, environ: readFileSync(`/proc/${entry}/environ`, 'utf8') });
      }
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Every value in Redis, as text: strings, hashes, lists, sets, sorted sets and streams. */
async function redisDump(redis: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const value: unknown =
        type === 'string' ? await redis.get(key)
        : type === 'hash' ? await redis.hgetall(key)
        : type === 'list' ? await redis.lrange(key, 0, -1)
        : type === 'set' ? await redis.smembers(key)
        : type === 'zset' ? await redis.zrange(key, 0, -1)
        : type === 'stream' ? await redis.xrange(key, '-', '+')
        : null;
      parts.push(key, JSON.stringify(value));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/**
 * llama-server with an API key (LLAMA_API_KEY_FILE, as a Docker secret gives it): the router and
 * its model instances refuse requests without the key, the supervisor and the collector send it,
 * and it appears nowhere the supervisor reports to: status args, model args, Redis, its log.
 */
describe('supervisor and collector with LLAMA_API_KEY', () => {
  const redisUrl = inject('redisUrl');
  const nodeId = `apikey-${process.pid}-${Date.now()}`;
  const key = `key-${randomBytes(24).toString('hex')}`;
  const bearer = { authorization: `Bearer ${key}` };
  let dir: string;
  let modelsDir: string;
  let port: number;
  let url: string;
  let supervisor: ManagedProcess;
  let collector: ManagedProcess | null = null;
  let status: StreamRecorder;
  let logs: StreamRecorder;
  let metrics: StreamRecorder;
  let redis: Redis;
  let queue: Queue;
  let queueEvents: QueueEvents;

  const llamaStatuses = (): LlamaStatus[] =>
    status.entries
      .map((e) => StatusEventSchema.parse(e))
      .flatMap((e) => (e.nodeId === nodeId && e.kind === 'llama' ? [e.status] : []));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-apikey-'));
    modelsDir = join(dir, 'models');
    mkdirSync(join(dir, 'data'));
    await writeDemoModels(modelsDir, { count: 1 });
    // As a Docker secret: a file with a trailing newline.
    const keyFile = join(dir, 'llama_api_key');
    writeFileSync(keyFile, `${key}\n`, { mode: 0o600 });
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    status = new StreamRecorder(redisUrl, RedisKeys.statusStream);
    logs = new StreamRecorder(redisUrl, RedisKeys.logStream);
    metrics = new StreamRecorder(redisUrl, RedisKeys.metricsStream);
    redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    supervisor = startService('supervisor', {
      REDIS_URL: redisUrl,
      SUPERVISOR_NODE_ID: nodeId,
      LLAMA_SERVER_BIN: inject('llamaServerBin'),
      MODELS_DIR: modelsDir,
      SUPERVISOR_DATA_DIR: join(dir, 'supervisor'),
      LLAMA_PORT: String(port),
      LLAMA_MODELS_MAX: '1',
      LLAMA_CTX_SIZE: '512',
      LLAMA_MODELS_AUTOLOAD: 'false',
      LLAMA_API_KEY_FILE: keyFile,
      LLAMA_API_KEY: '',
      LLAMA_STOP_GRACE_MS: '3000',
      // The supervisor logs at debug level too: nothing there may carry the key either.
      LOG_LEVEL: 'debug',
    });
    queue = new Queue(controlQueueName(nodeId), { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX });
    queueEvents = new QueueEvents(controlQueueName(nodeId), { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX });
    await queueEvents.waitUntilReady();
    await waitFor(() => llamaStatuses().some((s) => s.state === 'running'), { timeoutMs: 60_000, what: 'llama-server running' }).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${supervisor.tail()}`);
      },
    );
  });

  afterAll(async () => {
    await collector?.stop();
    await supervisor?.stop(20_000);
    await queue?.close();
    await queueEvents?.close();
    await status?.close();
    await logs?.close();
    await metrics?.close();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes the router refuse requests without the key (health stays public)', async () => {
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/models`)).status).toBe(401);
    expect((await fetch(`${url}/models`, { headers: { authorization: 'Bearer wrong-key-0123456789' } })).status).toBe(401);
    expect((await fetch(`${url}/models`, { headers: bearer })).status).toBe(200);
  });

  it('still loads a model through the queue; the instance inherits the key and accepts what the router forwards', async () => {
    const payload = { modelId: MODEL };
    const job = await queue.add(JobName.modelLoad, payload, { jobId: controlJobId(JobName.modelLoad, payload) });
    const result = (await job.waitUntilFinished(queueEvents, 90_000)) as { model: ModelState };
    expect(result.model).toMatchObject({ id: MODEL, status: 'loaded' });

    const completion = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: MODEL, prompt: 'hello', max_tokens: 4 }),
      });
    expect((await completion({})).status).toBe(401);
    const ok = await completion(bearer);
    expect(ok.status, await ok.clone().text()).toBe(200);

    // The model instance is a child of the router with the key in its environment, not its
    // arguments: it answers 401 to anyone on this machine who skips the router.
    // (The supervisor's watchdog, a `sh` forked before llama-server, carries the router's arguments.)
    const instances = processesMentioning(modelsDir).filter(
      (p) => p.pid !== llamaStatuses().at(-1)?.pid && p.cmdline.includes('--port') && !p.cmdline.includes('llama-watchdog'),
    );
    expect(instances.length).toBe(1);
    const instance = instances[0]!;
    expect(instance.environ.split('\0')).toContain(`LLAMA_API_KEY=${key}`);
    const instancePort = /--port (\d+)/.exec(instance.cmdline)?.[1];
    expect(instancePort).toBeDefined();
    expect((await fetch(`http://127.0.0.1:${instancePort}/v1/models`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${instancePort}/v1/models`, { headers: bearer })).status).toBe(200);
  });

  it("lets the collector read the model's /metrics with the key", async () => {
    collector = startService('metrics', {
      REDIS_URL: redisUrl,
      METRICS_NODE_ID: nodeId,
      LLAMA_SERVER_URL: url,
      LLAMA_API_KEY: key,
      METRICS_INTERVAL_MS: '500',
      METRICS_PORT: String(await freePort()),
      METRICS_HOST: '127.0.0.1',
      MODELS_DIR: modelsDir,
      DATA_DIR: join(dir, 'data'),
      NVIDIA_SMI_BIN: join(dir, 'no-nvidia-smi'),
    });
    const proc = collector;
    // A model in a sample means /models and the model's /metrics answered; the tokens of the
    // completion above mean the figures are llama-server's.
    const model = await waitFor(
      () =>
        metrics.entries
          .map((e) => MetricsEventSchema.parse(e).sample)
          .filter((s) => s.nodeId === nodeId)
          .flatMap((s) => s.models)
          .find((m) => m.modelId === MODEL),
      { timeoutMs: 30_000, what: `a metrics sample with ${MODEL}` },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${proc.tail()}`);
    });
    expect(model.genTokensTotal).toBeGreaterThan(0);
  });

  it('keeps the key out of the status args, the command lines, Redis and the logs', async () => {
    const running = llamaStatuses().findLast((s) => s.state === 'running');
    expect(running?.args).toContain('--models-dir');
    expect(running?.args.join(' ')).not.toContain(key);
    expect(running?.args).not.toContain('--api-key');

    const llama = processesMentioning(modelsDir);
    expect(llama.length).toBeGreaterThanOrEqual(2);
    for (const p of llama) {
      expect(p.cmdline).not.toContain(key);
    }

    // Let the last log batch arrive.
    await waitFor(() => logs.entries.length > 0, { timeoutMs: 10_000, what: 'log batches' });
    for (const [name, recorder] of [['status', status], ['logs', logs], ['metrics', metrics]] as const) {
      const text = JSON.stringify(recorder.entries);
      expect(text.length, `${name} stream recorded`).toBeGreaterThan(100);
      expect(text.includes(key), `the key in the ${name} stream`).toBe(false);
    }
    const dump = await redisDump(redis);
    expect(dump).toContain(nodeId);
    expect(dump.includes(key), 'the key somewhere in Redis').toBe(false);
    for (const proc of [supervisor, collector]) {
      expect(proc?.lines.length).toBeGreaterThan(0);
      expect(proc?.lines.some((line) => line.includes(key)), `the key in the ${proc?.name} log`).toBe(false);
    }
  });
});
