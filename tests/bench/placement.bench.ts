import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { controlQueueName, controlRunId, JobName, QUEUE_PREFIX, RedisKeys, STREAM_FIELD, StatusEventSchema } from '@llamaproxy/shared';
import { PLACEMENT_MODELS, writePlacementModels } from '../src/gguf/placement-models.js';
import { childProcesses, ensureLlamaServer, freePort, listRouterModels, startLlamaRouter, startRedis, startService, waitFor } from '../src/harness/index.js';
import { row, type Bench, type BenchRow } from './bench.js';

const MiB = 1024 * 1024;
/** The RAM budget both arms are held to. */
const BUDGET_MIB = 245;
const TRACE_LENGTH = 36;

/**
 * One trace of requests over four generated models of different sizes (~24, 62, 62 and 153 MiB
 * resident): mostly the small and medium ones, the large one now and then. Deterministic.
 */
function trace(): string[] {
  let state = 7;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const weights: Array<[string, number]> = [
    ['place-small', 0.35],
    ['place-mid-a', 0.25],
    ['place-mid-b', 0.25],
    ['place-big', 0.15],
  ];
  return Array.from({ length: TRACE_LENGTH }, () => {
    let r = random();
    for (const [id, w] of weights) {
      if ((r -= w) <= 0) {
        return id;
      }
    }
    return 'place-big';
  });
}

interface ArmResult {
  /** Loads that failed, or left the instances over the budget ("out of memory", emulated on CPU). */
  failed: number;
  loads: number;
  /** Wall time of the requests that had to wait for a load (load + a short completion), ms. */
  loadingMs: number;
  waited: number;
  /** Largest resident memory of all instances together, after any request (MiB). */
  peakMiB: number;
}

const now = (): number => performance.timeOrigin + performance.now();

function rssOfChildren(routerPid: number): number {
  let total = 0;
  for (const pid of childProcesses(routerPid)) {
    const status = (() => {
      try {
        return readFileSync(`/proc/${pid}/status`, 'latin1');
      } catch {
        return '';
      }
    })();
    total += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
  }
  return total;
}

/**
 * Node's fetch reuses kept-alive sockets that llama-server may have just closed ("fetch failed"
 * before anything was sent): such a request is tried again, up to three times.
 */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || !(err instanceof TypeError)) {
        throw err;
      }
    }
  }
}

async function complete(url: string, model: string, autoload: boolean): Promise<boolean> {
  const res = await fetch(`${url}/v1/completions${autoload ? '?autoload=true' : ''}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt: 'hello', max_tokens: 4 }),
  });
  await res.text();
  return res.ok;
}

/**
 * Memory-aware placement (npm run bench -- placement): the same trace against (a) the supervisor
 * with PLACEMENT=memory and a RAM budget, the gateway's part (load on demand through a job, then
 * the request; the request's time in the recency hash) played here, and (b) llama.cpp's own
 * count-based LRU (`--models-max N`, autoload) for each N, the best N taken as the baseline.
 * There is no GPU here, so "out of memory" is emulated as the instances' resident memory going
 * over the same RAM budget (checked after every request), or a load failing.
 */
const bench: Bench = {
  name: 'placement',
  async run() {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-place-'));
    const modelsDir = join(dir, 'models');
    const redisFixture = await startRedis();
    const cleanup: (() => Promise<void>)[] = [async () => redisFixture.stop(), async () => rmSync(dir, { recursive: true, force: true })];
    const budget = BUDGET_MIB * MiB;
    const requests = trace();
    try {
      await writePlacementModels(modelsDir);
      const bin = await ensureLlamaServer();

      // (a) Memory-aware placement through the supervisor.
      const memory = await (async (): Promise<ArmResult> => {
        const nodeId = 'bench-place';
        const port = await freePort();
        const supervisor = startService('supervisor', {
          REDIS_URL: redisFixture.url,
          SUPERVISOR_NODE_ID: nodeId,
          LLAMA_SERVER_BIN: bin,
          MODELS_DIR: modelsDir,
          SUPERVISOR_DATA_DIR: join(dir, 'supervisor'),
          LLAMA_PORT: String(port),
          LLAMA_CTX_SIZE: '512',
          LLAMA_EXTRA_ARGS: '--threads 1',
          PLACEMENT: 'memory',
          RAM_BUDGET: `${BUDGET_MIB}MiB`,
          LOG_LEVEL: 'warn',
        });
        const redis = new Redis(redisFixture.url, { maxRetriesPerRequest: null });
        const queue = new Queue(controlQueueName(nodeId), { connection: redis, prefix: QUEUE_PREFIX });
        const eventsRedis = new Redis(redisFixture.url, { maxRetriesPerRequest: null });
        const events = new QueueEvents(controlQueueName(nodeId), { connection: eventsRedis, prefix: QUEUE_PREFIX });
        try {
          await events.waitUntilReady();
          await waitFor(async () => (await queue.getWorkers()).length > 0, { timeoutMs: 60_000, what: 'supervisor worker' });
          const url = `http://127.0.0.1:${port}`;
          await waitFor(async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 60_000, what: 'llama-server' });
          const routerPid = await waitFor(async () => {
            const entries = await redis.xrange(RedisKeys.statusStream, '-', '+');
            for (const [, fields] of entries.reverse()) {
              const event = StatusEventSchema.safeParse(JSON.parse(fields[fields.indexOf(STREAM_FIELD) + 1] ?? 'null'));
              if (event.success && event.data.nodeId === nodeId && event.data.kind === 'llama' && event.data.status.state === 'running') {
                return event.data.status.pid ?? undefined;
              }
            }
            return undefined;
          });
          const result: ArmResult = { failed: 0, loads: 0, loadingMs: 0, waited: 0, peakMiB: 0 };
          process.stderr.write('placement: memory-aware arm\n');
          for (const [i, model] of requests.entries()) {
            const loaded = (await retried(() => listRouterModels(url))).find((m) => m.id === model)?.status.value === 'loaded';
            const t0 = now();
            if (!loaded) {
              result.loads++;
              result.waited++;
              const jobId = controlRunId(`bench-${i}`);
              await queue.add(JobName.modelLoad, { modelId: model }, { jobId, removeOnComplete: true, removeOnFail: true });
              const job = await queue.getJob(jobId);
              const ok = await job?.waitUntilFinished(events, 120_000).then(
                () => true,
                () => false,
              );
              if (ok !== true) {
                result.failed++;
                continue;
              }
            }
            const ok = await retried(() => complete(url, model, false));
            await redis.hset(RedisKeys.placementLastUsed, model, String(Date.now()));
            if (!loaded) {
              result.loadingMs += now() - t0;
            }
            const rss = rssOfChildren(routerPid);
            result.peakMiB = Math.max(result.peakMiB, rss / MiB);
            if (!ok || rss > budget) {
              result.failed++;
            }
          }
          return result;
        } finally {
          await supervisor.stop(20_000);
          await queue.close();
          await events.close();
          redis.disconnect();
          eventsRedis.disconnect();
        }
      })();

      // (b) llama.cpp's count-based LRU, for each --models-max.
      const counts: Array<{ modelsMax: number; result: ArmResult }> = [];
      for (const modelsMax of [1, 2, 3]) {
        process.stderr.write(`placement: count arm, --models-max ${modelsMax}\n`);
        const router = await startLlamaRouter({ modelsDir, modelsMax });
        try {
          const result: ArmResult = { failed: 0, loads: 0, loadingMs: 0, waited: 0, peakMiB: 0 };
          for (const model of requests) {
            const loaded = (await retried(() => listRouterModels(router.url))).find((m) => m.id === model)?.status.value === 'loaded';
            const t0 = now();
            const ok = await retried(() => complete(router.url, model, true));
            if (!loaded) {
              result.loads++;
              result.waited++;
              result.loadingMs += now() - t0;
            }
            const rss = rssOfChildren(router.process.pid as number);
            result.peakMiB = Math.max(result.peakMiB, rss / MiB);
            if (!ok || rss > budget) {
              result.failed++;
            }
          }
          counts.push({ modelsMax, result });
        } finally {
          await router.stop();
        }
      }
      // The best N: fewest failures, then fewest loads.
      const best = [...counts].sort((a, b) => a.result.failed - b.result.failed || a.result.loads - b.result.loads)[0];
      if (best === undefined) {
        throw new Error('no baseline');
      }
      const label = `count LRU, --models-max ${best.modelsMax}`;
      const rows: BenchRow[] = [
        row({ figure: `failed loads (OOM = over ${BUDGET_MIB} MiB RSS, emulated), ${requests.length} requests`, value: memory.failed, unit: '', baseline: best.result.failed, baselineLabel: label, target: '0', met: memory.failed === 0 }),
        row({ figure: 'loads', value: memory.loads, unit: '', baseline: best.result.loads, baselineLabel: label, target: '<= baseline', met: memory.loads <= best.result.loads }),
        row({ figure: 'time in requests that waited for a load', value: memory.loadingMs, unit: 'ms', baseline: best.result.loadingMs, baselineLabel: label }),
        row({ figure: 'requests that waited', value: memory.waited, unit: '', baseline: best.result.waited, baselineLabel: label }),
        row({ figure: 'peak resident memory of all instances', value: memory.peakMiB, unit: 'MiB', baseline: best.result.peakMiB, baselineLabel: label, target: `<= ${BUDGET_MIB}`, met: memory.peakMiB <= BUDGET_MIB }),
      ];
      for (const { modelsMax, result } of counts) {
        rows.push(row({ figure: `count LRU --models-max ${modelsMax}: loads (failed ${result.failed}, peak ${result.peakMiB.toFixed(0)} MiB)`, value: result.loads, unit: '' }));
      }
      process.stderr.write(`placement: trace ${requests.map((m) => m.replace('place-', '')).join(' ')}; models ${PLACEMENT_MODELS.map((m) => m.id).join(', ')}\n`);
      return rows;
    } finally {
      for (const step of cleanup) {
        await step().catch(() => undefined);
      }
    }
  },
};

export default bench;
