/**
 * What the `/v1` endpoint adds in front of llama-server's router (`npm run bench -- proxy`): time to
 * first token (first SSE chunk) at p50 and p99 with 1 stream at a time and with 32 at once, and the
 * total streamed throughput at 32 streams, each through the gateway and, as the baseline measured
 * in the same run, straight at the router; the gateway's CPU per 1,000 streamed tokens (beside the
 * router's own over the direct run: it too passes each chunk on, from its model instance); and the
 * dashboard's broadcast latency (a log line published on the Redis stream as the supervisor does →
 * received by each of DASHBOARDS connected dashboards) p99 while 32 streams run through the
 * gateway, against the same with the gateway idle. Real processes: Redis, the router with a
 * generated model, a gateway with an environment API key.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RedisKeys, type BroadcastEnvelope } from '@llamaproxy/shared';
import { demoModels, writeDemoModels } from '../src/gguf/tiny-model.js';
import { freePort, publishToStream, startLlamaRouter, startRedis, startService, TestClient, waitFor, waitForModelStatus } from '../src/harness/index.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';

const KEY = 'bench-key-0123456789abcdef';
const SEQUENTIAL = 30;
const CONCURRENT = 32;
/** Tokens per stream (`PROXY_BENCH_MAX_TOKENS`, default 64): a longer stream spreads the per-request cost over more tokens. */
const MAX_TOKENS = Number(process.env.PROXY_BENCH_MAX_TOKENS ?? 64);
/** Dashboards connected while the broadcast latency is measured. */
const DASHBOARDS = 10;
/** Broadcasts measured per phase, and the pause between two (a paced, not a flooding, load). */
const BROADCASTS = 80;
const BROADCAST_SPACING_MS = 30;
/** Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ). */
const USER_HZ = 100;
/** `PROXY_BENCH_CPU_PROF=<dir>`: the gateway writes a V8 CPU profile there when it stops (for where its time goes). */
const CPU_PROF_DIR = process.env.PROXY_BENCH_CPU_PROF ?? '';
const log = (line: string): void => void process.stderr.write(`[proxy bench] ${line}\n`);

/** One streamed chat: ms to the first chunk, ms in all, and the chunks (≈ tokens) received. */
async function streamOnce(url: string, model: string, headers: Record<string, string>): Promise<{ ttft: number; total: number; chunks: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello' }], max_tokens: MAX_TOKENS, ignore_eos: true, temperature: 0, stream: true }),
  });
  if (!res.ok || res.body === null) {
    throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  }
  let ttft = -1;
  let chunks = 0;
  const decoder = new TextDecoder();
  for await (const part of res.body as AsyncIterable<Uint8Array>) {
    if (ttft < 0) {
      ttft = performance.now() - started;
    }
    chunks += (decoder.decode(part, { stream: true }).match(/^data: \{/gm) ?? []).length;
  }
  return { ttft, total: performance.now() - started, chunks };
}

async function measure(url: string, model: string, headers: Record<string, string>) {
  const single: number[] = [];
  let sequentialTokens = 0;
  for (let i = 0; i < SEQUENTIAL; i++) {
    const run = await streamOnce(url, model, headers);
    single.push(run.ttft);
    sequentialTokens += run.chunks;
  }
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: CONCURRENT }, () => streamOnce(url, model, headers)));
  const seconds = (performance.now() - started) / 1000;
  const ttft32 = runs.map((r) => r.ttft);
  return {
    /** Every token streamed in this measurement (1 at a time, then 32 at once). */
    tokens: sequentialTokens + runs.reduce((n, r) => n + r.chunks, 0),
    p50: percentile(single, 50), p99: percentile(single, 99),
    p50x32: percentile(ttft32, 50), p99x32: percentile(ttft32, 99),
    throughput: runs.reduce((n, r) => n + r.chunks, 0) / seconds,
  };
}

/** User plus system CPU seconds of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/**
 * Milliseconds from publishing each of BROADCASTS log lines on the log stream to its arrival at
 * every dashboard (one value per dashboard and line): the gateway's ingest, its broadcast
 * through the Redis adapter, and the socket to the browser-side client.
 */
async function broadcastLatencies(redis: Redis, dashboards: TestClient[], tag: string): Promise<number[]> {
  const waiting = new Map<string, { sent: number; pending: number; resolve: () => void }>();
  const latencies: number[] = [];
  const offs = dashboards.map((client) => {
    const listener = (envelope: BroadcastEnvelope<'logs:entry'>): void => {
      for (const entry of envelope.data.entries) {
        const w = waiting.get(entry.message);
        if (w !== undefined) {
          latencies.push(performance.now() - w.sent);
          if (--w.pending === 0) {
            w.resolve();
          }
        }
      }
    };
    client.socket.on('logs:entry', listener);
    return () => client.socket.off('logs:entry', listener);
  });
  try {
    for (let i = 0; i < BROADCASTS; i++) {
      const message = `bench broadcast ${tag} ${i}`;
      const arrived = new Promise<void>((resolve) => waiting.set(message, { sent: performance.now(), pending: dashboards.length, resolve }));
      await publishToStream(redis, RedisKeys.logStream, { records: [{ ts: Date.now(), level: 'info', source: 'supervisor', nodeId: 'bench-node', modelId: null, message }] });
      await Promise.race([arrived, sleep(10_000).then(() => Promise.reject(new Error(`broadcast ${message} did not reach every dashboard in 10 s`)))]);
      waiting.delete(message);
      await sleep(BROADCAST_SPACING_MS);
    }
  } finally {
    offs.forEach((off) => off());
  }
  return latencies;
}

/**
 * Runs `count` streams at `url`, each starting again when it ends, until `stop()`; resolves with
 * the tokens streamed and the streams that failed (counted, not fatal: this is background load).
 */
function keepStreaming(url: string, model: string, headers: Record<string, string>, count: number): { stop: () => Promise<{ tokens: number; failed: number }> } {
  let running = true;
  let failed = 0;
  const loops = Array.from({ length: count }, async () => {
    let tokens = 0;
    while (running) {
      tokens += await streamOnce(url, model, headers).then(
        (r) => r.chunks,
        () => {
          failed++;
          return 0;
        },
      );
    }
    return tokens;
  });
  return {
    stop: async () => {
      running = false;
      return { tokens: (await Promise.all(loops)).reduce((a, b) => a + b, 0), failed };
    },
  };
}

const bench: Bench = {
  name: 'proxy',
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-proxy-'));
    const redis = await startRedis();
    const model = demoModels(1)[0]!.id;
    await writeDemoModels(join(dir, 'models'), { count: 1 });
    const router = await startLlamaRouter({ modelsDir: join(dir, 'models'), extraArgs: ['-np', '4', '-c', '2048'] });
    const port = await freePort();
    const gateway = startService('gateway', {
      REDIS_URL: redis.url, DATA_DIR: join(dir, 'gw'), GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', AUTH_MODE: 'none',
      LLAMA_SERVER_URL: router.url, API_KEYS: KEY, API_MODEL_CONCURRENCY: '1000', LOG_LEVEL: 'warn',
    }, { nodeArgs: CPU_PROF_DIR === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] });
    try {
      await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model }) });
      await waitForModelStatus(router.url, model, 'loaded');
      const gw = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${gw}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: 'gateway ready' });
      // Warm both paths (connections, the model's first run).
      await streamOnce(router.url, model, {});
      await streamOnce(gw, model, { authorization: `Bearer ${KEY}` });
      // The router's own CPU over the direct run: it is itself a pass-through (router → model
      // instance, a child process), so its CPU per token is the same-run yardstick for ours.
      const routerCpuBefore = cpuSeconds(router.process.pid!);
      const direct = await measure(router.url, model, {});
      const routerPer1000 = ((cpuSeconds(router.process.pid!) - routerCpuBefore) * 1000 * 1000) / direct.tokens;
      const cpuBefore = cpuSeconds(gateway.pid!);
      const proxied = await measure(gw, model, { authorization: `Bearer ${KEY}` });
      // Over the whole proxied run (1 stream at a time, then 32): the gateway's CPU per 1,000 tokens it passed.
      const gatewayCpu = cpuSeconds(gateway.pid!) - cpuBefore;
      const cpuPer1000 = (gatewayCpu * 1000 * 1000) / proxied.tokens;
      log(`direct ${JSON.stringify(direct)}\nproxied ${JSON.stringify(proxied)}\ngateway CPU ${gatewayCpu.toFixed(3)} s for ${proxied.tokens} tokens; router CPU per 1,000 direct tokens ${routerPer1000.toFixed(1)} ms`);

      // The dashboard's broadcasts, idle and then with 32 streams running through the gateway.
      const publisher = new Redis(redis.url);
      const dashboards = await Promise.all(Array.from({ length: DASHBOARDS }, () => TestClient.connect(gw)));
      let idle: number[];
      let loaded: number[];
      let besideDirect: number[];
      let loadTokens: number;
      const underLoad = async (url: string, headers: Record<string, string>, tag: string): Promise<{ latencies: number[]; tokens: number }> => {
        const load = keepStreaming(url, model, headers, CONCURRENT);
        // Let every stream start (the router queues what its slots cannot take yet).
        await sleep(1000);
        const latencies = await broadcastLatencies(publisher, dashboards, tag);
        const { tokens, failed } = await load.stop();
        if (failed > 0) {
          log(`${failed} background streams ${tag} failed`);
        }
        return { latencies, tokens };
      };
      try {
        await broadcastLatencies(publisher, dashboards, 'warm-up');
        idle = await broadcastLatencies(publisher, dashboards, 'idle');
        ({ latencies: loaded, tokens: loadTokens } = await underLoad(gw, { authorization: `Bearer ${KEY}` }, 'through the gateway'));
        // For where the time goes: the same 32 streams straight at the router load the machine
        // (llama-server's threads) without passing the gateway.
        ({ latencies: besideDirect } = await underLoad(router.url, {}, 'direct'));
      } finally {
        dashboards.forEach((d) => d.close());
        publisher.disconnect();
      }
      const idleP99 = percentile(idle, 99);
      const loadedP99 = percentile(loaded, 99);
      log(`broadcast p50/p99 idle ${percentile(idle, 50).toFixed(2)}/${idleP99.toFixed(2)} ms, with ${CONCURRENT} streams through the gateway ` +
        `${percentile(loaded, 50).toFixed(2)}/${loadedP99.toFixed(2)} ms (${loadTokens} tokens streamed meanwhile), with ${CONCURRENT} streams straight at llama-server ` +
        `${percentile(besideDirect, 50).toFixed(2)}/${percentile(besideDirect, 99).toFixed(2)} ms`);
      const vs = { baselineLabel: 'llama-server direct' };
      return [
        row({ figure: 'TTFT, 1 stream (p50)', value: proxied.p50, unit: 'ms', baseline: direct.p50, ...vs, target: '< 3 ms added', met: proxied.p50 - direct.p50 < 3 }),
        row({ figure: 'TTFT, 1 stream (p99)', value: proxied.p99, unit: 'ms', baseline: direct.p99, ...vs }),
        row({ figure: `TTFT, ${CONCURRENT} streams (p50)`, value: proxied.p50x32, unit: 'ms', baseline: direct.p50x32, ...vs }),
        row({ figure: `TTFT, ${CONCURRENT} streams (p99)`, value: proxied.p99x32, unit: 'ms', baseline: direct.p99x32, ...vs }),
        row({ figure: `throughput, ${CONCURRENT} streams`, value: proxied.throughput, unit: 'tok/s', baseline: direct.throughput, ...vs, target: '≥ 0.97 of direct', met: proxied.throughput >= 0.97 * direct.throughput }),
        row({ figure: 'gateway CPU per 1,000 streamed tokens', value: cpuPer1000, unit: 'ms', baseline: routerPer1000, baselineLabel: 'llama-server router, its own pass-through' }),
        row({ figure: `dashboard broadcast, ${DASHBOARDS} dashboards, ${CONCURRENT} streams running (p99)`, value: loadedP99, unit: 'ms', baseline: idleP99,
          baselineLabel: 'no stream running', target: 'within 10 % of idle', met: loadedP99 <= 1.1 * idleP99 }),
        row({ figure: `dashboard broadcast, ${DASHBOARDS} dashboards, ${CONCURRENT} streams running (p50)`, value: percentile(loaded, 50), unit: 'ms', baseline: percentile(idle, 50), baselineLabel: 'no stream running' }),
        row({ figure: `dashboard broadcast, ${CONCURRENT} streams through the gateway (p99)`, value: loadedP99, unit: 'ms', baseline: percentile(besideDirect, 99),
          baselineLabel: `${CONCURRENT} streams straight at llama-server` }),
      ];
    } catch (err) {
      log(gateway.tail());
      throw err;
    } finally {
      await gateway.stop();
      await router.stop();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
