/**
 * What memory-aware placement costs a `/v1` caller (`npm run bench -- placement-v1`), with real
 * processes: Redis, a supervisor with PLACEMENT=memory and a RAM budget that holds one of two
 * generated models, its llama-server, and a gateway with an environment API key.
 *
 * - warm: a one-token chat completion for a loaded model through the gateway (admission, the
 *   "ensure loaded" step, the recency feed, forwarding), p50 and p99; baseline: the same request
 *   straight at llama-server, measured in the same run.
 * - swap: a request for the model that is not loaded, which must evict the other (alternating A,
 *   B, ...), through the gateway (one `models:load` job: placement plans, unloads, loads, then the
 *   request is forwarded); baseline: the same swap done by hand against llama-server in the same
 *   run (unload the other, then the request with `?autoload=true`), which skips the supervisor,
 *   the queue and the memory plan.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoModels, writeDemoModels } from '../src/gguf/tiny-model.js';
import { ensureLlamaServer, freePort, startRedis, startService, waitFor, waitForModelStatus } from '../src/harness/index.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';

const KEY = 'bench-placement-key-0123456789';
const WARM = 60;
const SWAPS = 8;
const log = (line: string): void => void process.stderr.write(`[placement-v1 bench] ${line}\n`);

async function chat(url: string, model: string, headers: Record<string, string>, query = ''): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/chat/completions${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, temperature: 0 }),
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`${url} answered ${res.status} for ${model}: ${text}`);
  }
  return performance.now() - started;
}

const bench: Bench = {
  name: 'placement-v1',
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-placement-v1-'));
    const redis = await startRedis();
    const bin = await ensureLlamaServer();
    const [a, b] = demoModels(2).map((m) => m.id) as [string, string];
    await writeDemoModels(join(dir, 'models'), { count: 2 });
    const llamaPort = await freePort();
    const gatewayPort = await freePort();
    const llama = `http://127.0.0.1:${llamaPort}`;
    const gw = `http://127.0.0.1:${gatewayPort}`;
    const shared = { REDIS_URL: redis.url, SUPERVISOR_NODE_ID: 'bench-placement-v1', MODELS_DIR: join(dir, 'models'), LLAMA_PORT: String(llamaPort), LLAMA_CTX_SIZE: '512', LOG_LEVEL: 'warn' };
    const supervisor = startService('supervisor', { ...shared, LLAMA_SERVER_BIN: bin, SUPERVISOR_DATA_DIR: join(dir, 'supervisor'), PLACEMENT: 'memory', RAM_BUDGET: '26MiB' });
    const gateway = startService('gateway', {
      ...shared, DATA_DIR: join(dir, 'gw'), GATEWAY_PORT: String(gatewayPort), GATEWAY_HOST: '127.0.0.1', AUTH_MODE: 'none', LLAMA_SERVER_URL: llama, API_KEYS: KEY,
    });
    const auth = { authorization: `Bearer ${KEY}` };
    log(`llama-server ${llama}, gateway ${gw}`);
    try {
      await waitFor(async () => (await fetch(`${gw}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: 'gateway ready' });
      // The gateway loads on demand once it has the node's memory report (mode "memory").
      await waitFor(async () => (await chat(gw, a, auth).catch(() => null)) !== null, { timeoutMs: 90_000, what: 'a first answer through the gateway' });
      await waitForModelStatus(llama, a, 'loaded');

      const warm = { gateway: [] as number[], direct: [] as number[] };
      for (let i = 0; i < WARM; i++) {
        warm.direct.push(await chat(llama, a, {}));
        warm.gateway.push(await chat(gw, a, auth));
      }

      // What the "ensure loaded" step adds to a request for a loaded model: one fresh model list.
      const lookup: number[] = [];
      for (let i = 0; i < WARM; i++) {
        const started = performance.now();
        await (await fetch(`${llama}/models`)).text();
        lookup.push(performance.now() - started);
      }

      const swap = { gateway: [] as number[], direct: [] as number[] };
      let loaded = a;
      for (let i = 0; i < SWAPS; i++) {
        const next = loaded === a ? b : a;
        swap.gateway.push(await chat(gw, next, auth));
        await waitForModelStatus(llama, loaded, 'unloaded');
        loaded = next;
      }
      for (let i = 0; i < SWAPS; i++) {
        const next = loaded === a ? b : a;
        const started = performance.now();
        await fetch(`${llama}/models/unload`, { method: 'POST', body: JSON.stringify({ model: loaded }) });
        await waitForModelStatus(llama, loaded, 'unloaded');
        await chat(llama, next, {}, '?autoload=true');
        swap.direct.push(performance.now() - started);
        loaded = next;
      }
      log(`warm gateway ${JSON.stringify(warm.gateway.map(Math.round))}\nwarm direct ${JSON.stringify(warm.direct.map(Math.round))}`);
      log(`lookup ${JSON.stringify(lookup.map((x) => Math.round(x * 10) / 10))}`);
      log(`swap gateway ${JSON.stringify(swap.gateway.map(Math.round))}\nswap direct ${JSON.stringify(swap.direct.map(Math.round))}`);
      const vs = { baselineLabel: 'llama-server direct' };
      const warm50 = percentile(warm.gateway, 50);
      return [
        row({ figure: 'loaded model, 1-token chat (p50)', value: warm50, unit: 'ms', baseline: percentile(warm.direct, 50), ...vs, target: '< 5 ms added', met: warm50 - percentile(warm.direct, 50) < 5 }),
        row({ figure: 'loaded model, 1-token chat (p99)', value: percentile(warm.gateway, 99), unit: 'ms', baseline: percentile(warm.direct, 99), ...vs }),
        row({ figure: 'the ensure step\'s model list lookup (p50)', value: percentile(lookup, 50), unit: 'ms' }),
        row({ figure: 'evict + load on demand + answer (p50)', value: percentile(swap.gateway, 50), unit: 'ms', baseline: percentile(swap.direct, 50), baselineLabel: 'unload + autoload by hand' }),
        row({ figure: 'evict + load on demand + answer (max)', value: Math.max(...swap.gateway), unit: 'ms', baseline: Math.max(...swap.direct), baselineLabel: 'unload + autoload by hand' }),
      ];
    } catch (err) {
      log(`--- supervisor\n${supervisor.tail()}\n--- gateway\n${gateway.tail()}`);
      throw err;
    } finally {
      await gateway.stop();
      await supervisor.stop(20_000);
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
