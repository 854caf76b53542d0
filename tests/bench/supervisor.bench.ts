import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { controlJobId, controlQueueName, JobName, QUEUE_PREFIX, RedisKeys, STREAM_FIELD, StatusEventSchema } from '@llamaproxy/shared';
import { writeDemoModels } from '../src/gguf/tiny-model.js';
import { ensureLlamaServer, freePort, startLlamaRouter, startRedis, startService, waitFor } from '../src/harness/index.js';
import { percentile, row, type Bench } from './bench.js';

const ITERATIONS = 20;
const now = (): number => performance.timeOrigin + performance.now();

/**
 * Control path: enqueue a load job → the supervisor's `loaded` status message on the Redis
 * stream, against POST /models/load straight to a llama-server router → `loaded` on its
 * /models/sse. Same models, same machine, interleaved iterations.
 */
const bench: Bench = {
  name: 'supervisor',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-sup-'));
    const redisFixture = await startRedis();
    const cleanup: (() => Promise<void>)[] = [async () => redisFixture.stop(), async () => rmSync(dir, { recursive: true, force: true })];
    try {
      await writeDemoModels(join(dir, 'models'), { count: 1 });
      const modelId = 'tiny-llama-a';
      const nodeId = 'bench';
      const bin = await ensureLlamaServer();

      // Baseline: a router of our own, driven over HTTP, observed on /models/sse.
      const router = await startLlamaRouter({ modelsDir: join(dir, 'models'), modelsMax: 1 });
      cleanup.unshift(() => router.stop());
      const sseWaiters = new Map<string, (t: number) => void>();
      const abort = new AbortController();
      void (async () => {
        const res = await fetch(`${router.url}/models/sse`, { signal: abort.signal });
        const decoder = new TextDecoder();
        let buffer = '';
        for await (const chunk of res.body ?? []) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let sep: number;
          while ((sep = buffer.indexOf('\n\n')) >= 0) {
            const data = buffer.slice(0, sep).replace(/^data:\s*/m, '');
            buffer = buffer.slice(sep + 2);
            const event = JSON.parse(data) as { model: string; data?: { status?: string } };
            const status = event.data?.status;
            if (status !== undefined) {
              sseWaiters.get(`${event.model}:${status}`)?.(now());
            }
          }
        }
      })().catch(() => undefined);
      cleanup.unshift(async () => abort.abort());

      // The supervisor with its own llama-server, observed on the status stream.
      const supervisor = startService('supervisor', {
        REDIS_URL: redisFixture.url,
        SUPERVISOR_NODE_ID: nodeId,
        LLAMA_SERVER_BIN: bin,
        MODELS_DIR: join(dir, 'models'),
        SUPERVISOR_DATA_DIR: join(dir, 'supervisor'),
        LLAMA_PORT: String(await freePort()),
        LLAMA_CTX_SIZE: '512',
        LLAMA_MODELS_AUTOLOAD: 'false',
        LOG_LEVEL: 'warn',
      });
      cleanup.unshift(() => supervisor.stop(20_000));
      const connection = new Redis(redisFixture.url, { maxRetriesPerRequest: null });
      const queue = new Queue(controlQueueName(nodeId), { connection, prefix: QUEUE_PREFIX });
      cleanup.unshift(async () => {
        await queue.close();
        connection.disconnect();
      });
      const streamWaiters = new Map<string, (t: number) => void>();
      const reader = new Redis(redisFixture.url, { maxRetriesPerRequest: null });
      let reading = true;
      const readLoop = (async () => {
        let lastId = '$';
        while (reading) {
          const result = await reader.xread('BLOCK', 100, 'STREAMS', RedisKeys.statusStream, lastId).catch(() => null);
          const arrived = now();
          for (const [, entries] of result ?? []) {
            for (const [id, fields] of entries) {
              lastId = id;
              const event = StatusEventSchema.safeParse(JSON.parse(fields[fields.indexOf(STREAM_FIELD) + 1] ?? 'null'));
              if (event.success && event.data.kind === 'model') {
                streamWaiters.get(`${event.data.model.id}:${event.data.model.status}`)?.(arrived);
              }
            }
          }
        }
      })();
      cleanup.unshift(async () => {
        reading = false;
        await readLoop;
        reader.disconnect();
      });
      await waitFor(async () => (await queue.getWorkers()).length > 0, { timeoutMs: 60_000, what: 'supervisor worker' });

      const waitOn = (waiters: Map<string, (t: number) => void>, key: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`timed out waiting for ${key}`)), 60_000);
          waiters.set(key, (t) => {
            clearTimeout(timer);
            waiters.delete(key);
            resolve(t);
          });
        });

      const direct: number[] = [];
      const viaSupervisor: number[] = [];
      const runJob = async (name: typeof JobName.modelLoad | typeof JobName.modelUnload): Promise<void> => {
        await queue.add(name, { modelId }, { jobId: controlJobId(name, { modelId }), removeOnComplete: true, removeOnFail: true });
      };
      for (let i = 0; i < ITERATIONS + 2; i++) {
        // Supervisor path.
        let loaded = waitOn(streamWaiters, `${modelId}:loaded`);
        let t0 = now();
        await runJob(JobName.modelLoad);
        const supMs = (await loaded) - t0;
        let unloaded = waitOn(streamWaiters, `${modelId}:unloaded`);
        await runJob(JobName.modelUnload);
        await unloaded;

        // Direct path.
        loaded = waitOn(sseWaiters, `${modelId}:loaded`);
        t0 = now();
        await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model: modelId }) });
        const directMs = (await loaded) - t0;
        unloaded = waitOn(sseWaiters, `${modelId}:unloaded`);
        await fetch(`${router.url}/models/unload`, { method: 'POST', body: JSON.stringify({ model: modelId }) });
        await unloaded;

        if (i >= 2) {
          // The first two iterations warm both paths up.
          viaSupervisor.push(supMs);
          direct.push(directMs);
        }
      }
      const p50Added = percentile(viaSupervisor, 50) - percentile(direct, 50);
      return [
        row({ figure: `enqueue load → loaded status (p50, n=${ITERATIONS})`, value: percentile(viaSupervisor, 50), unit: 'ms', baseline: percentile(direct, 50), baselineLabel: 'POST /models/load → SSE loaded' }),
        row({ figure: `enqueue load → loaded status (p90, n=${ITERATIONS})`, value: percentile(viaSupervisor, 90), unit: 'ms', baseline: percentile(direct, 90), baselineLabel: 'direct p90' }),
        row({ figure: 'added by the supervisor (p50 difference)', value: p50Added, unit: 'ms', target: '< 20 ms', met: p50Added < 20 }),
      ];
    } finally {
      for (const step of cleanup) {
        await step().catch(() => undefined);
      }
    }
  },
};

export default bench;
