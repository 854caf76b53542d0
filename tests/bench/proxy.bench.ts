/**
 * What the `/v1` endpoint adds in front of llama-server's router (`npm run bench -- proxy`): time to
 * first token (first SSE chunk) at p50 and p99 with 1 stream at a time and with 32 at once, and the
 * total streamed throughput at 32 streams, each through the gateway and, as the baseline measured
 * in the same run, straight at the router. Real processes: Redis, the router with a generated model,
 * a gateway with an environment API key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoModels, writeDemoModels } from '../src/gguf/tiny-model.js';
import { freePort, startLlamaRouter, startRedis, startService, waitFor, waitForModelStatus } from '../src/harness/index.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';

const KEY = 'bench-key-0123456789abcdef';
const SEQUENTIAL = 30;
const CONCURRENT = 32;
const MAX_TOKENS = 64;
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
  for (let i = 0; i < SEQUENTIAL; i++) {
    single.push((await streamOnce(url, model, headers)).ttft);
  }
  const started = performance.now();
  const runs = await Promise.all(Array.from({ length: CONCURRENT }, () => streamOnce(url, model, headers)));
  const seconds = (performance.now() - started) / 1000;
  const ttft32 = runs.map((r) => r.ttft);
  return {
    p50: percentile(single, 50), p99: percentile(single, 99),
    p50x32: percentile(ttft32, 50), p99x32: percentile(ttft32, 99),
    throughput: runs.reduce((n, r) => n + r.chunks, 0) / seconds,
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
    });
    try {
      await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model }) });
      await waitForModelStatus(router.url, model, 'loaded');
      const gw = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${gw}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: 'gateway ready' });
      // Warm both paths (connections, the model's first run).
      await streamOnce(router.url, model, {});
      await streamOnce(gw, model, { authorization: `Bearer ${KEY}` });
      const direct = await measure(router.url, model, {});
      const proxied = await measure(gw, model, { authorization: `Bearer ${KEY}` });
      log(`direct ${JSON.stringify(direct)}\nproxied ${JSON.stringify(proxied)}`);
      const vs = { baselineLabel: 'llama-server direct' };
      return [
        row({ figure: 'TTFT, 1 stream (p50)', value: proxied.p50, unit: 'ms', baseline: direct.p50, ...vs, target: '< 5 ms added', met: proxied.p50 - direct.p50 < 5 }),
        row({ figure: 'TTFT, 1 stream (p99)', value: proxied.p99, unit: 'ms', baseline: direct.p99, ...vs }),
        row({ figure: `TTFT, ${CONCURRENT} streams (p50)`, value: proxied.p50x32, unit: 'ms', baseline: direct.p50x32, ...vs }),
        row({ figure: `TTFT, ${CONCURRENT} streams (p99)`, value: proxied.p99x32, unit: 'ms', baseline: direct.p99x32, ...vs }),
        row({ figure: `throughput, ${CONCURRENT} streams`, value: proxied.throughput, unit: 'tok/s', baseline: direct.throughput, ...vs, target: '≥ 0.95 of direct', met: proxied.throughput >= 0.95 * direct.throughput }),
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
