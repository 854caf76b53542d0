/**
 * Scale, the start-up broadcast flood (issue 17 follow-up): a real gateway process and real Redis
 * hold a catalogue of 5,000 models (SCALE_STARTUP_MODELS to change); then a node reports the live
 * state of every model, as a supervisor does when it starts (one `model` stream entry per model,
 * written in one pipeline). Measured on one connected client (socket.io-client):
 * - the broadcasts that carried those states (`models:status` one per model, `models:states` one
 *   per batch) and their bytes (JSON of the envelopes);
 * - the time from the first write until the client holds every state.
 * The baseline is one `models:status` per model (its bytes computed from the states the client
 * got), what the gateway sent before batching.
 *
 * Written against both sides of the change (per-model `models:status` before, batched
 * `models:states` after), so the same file measures the tree it runs in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisKeys, STREAM_FIELD } from '@llamaproxy/shared';
import { freePort, publishToStream, startRedis, startService, TestClient, waitFor, type ManagedProcess } from '../src/harness/index.js';
import { row, type Bench, type BenchRow } from './bench.js';

const COUNT = Number(process.env.SCALE_STARTUP_MODELS ?? 5000);
const NODE_ID = 'startup-bench-node';

const id = (i: number): string => `farm-${String(i).padStart(5, '0')}`;

function entry(modelId: string): Record<string, unknown> {
  return {
    id: modelId,
    path: `${modelId}.gguf`,
    layout: 'single',
    files: [`${modelId}.gguf`],
    mmproj: null,
    sizeBytes: 4_368_439_584,
    modifiedAt: 1_700_000_000_000,
    valid: true,
    invalidReason: null,
    architecture: 'qwen2',
    name: `Qwen2.5 7B Instruct (${modelId})`,
    quantization: 'Q4_K_M',
    parameterCount: 7_615_616_512,
    contextLength: 32_768,
  };
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

interface Received {
  event: string;
  payload: { seq: number; data: { nodeId: string; model?: { id: string }; models?: { id: string }[] } };
}

const bench: Bench = {
  name: 'scale-startup',
  async run(): Promise<BenchRow[]> {
    const redisFixture = await startRedis();
    const redisUrl = `${redisFixture.url}/14`;
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-startup-bench-'));
    const redis = new Redis(redisUrl);
    let gateway: ManagedProcess | null = null;
    let client: TestClient | null = null;
    try {
      await redis.flushdb();
      const ids = Array.from({ length: COUNT }, (_, i) => id(i + 1));
      await publishToStream(redis, RedisKeys.statusStream, {
        kind: 'catalogue',
        nodeId: NODE_ID,
        catalogue: { nodeId: NODE_ID, modelsDir: '/models', scannedAt: Date.now(), entries: ids.map(entry), skipped: [] },
      });
      const port = await freePort();
      gateway = startService('gateway', { AUTH_MODE: 'none', REDIS_URL: redisUrl, DATA_DIR: dir, GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', SUPERVISOR_NODE_ID: NODE_ID });
      const url = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: 'gateway ready' });
      client = await TestClient.connect(url);
      await client.waitForBroadcast('snapshot', () => true, { timeoutMs: 60_000 });
      const request = client.request.bind(client) as (event: string, payload: Record<string, unknown>) => Promise<{ success: boolean; data: { total: number } }>;
      await waitFor(async () => (await request('models:list', { limit: 1 })).data.total === COUNT, { timeoutMs: 120_000, what: `${COUNT} models ingested` });

      // The node starts: every model's state, one stream entry each, in one pipeline.
      const from = client.received.length;
      const now = Date.now();
      const states = ids.map((modelId) => ({ id: modelId, status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: now }));
      const pipeline = redis.pipeline();
      for (const model of states) {
        pipeline.xadd(RedisKeys.statusStream, '*', STREAM_FIELD, JSON.stringify({ kind: 'model', nodeId: NODE_ID, model }));
      }
      const start = performance.now();
      await pipeline.exec();
      const seen = new Set<string>();
      let counted = from;
      const watched = client;
      await waitFor(
        () => {
          for (; counted < watched.received.length; counted++) {
            const r = watched.received[counted] as Received;
            if (r.event === 'models:status' && r.payload.data.model !== undefined) {
              seen.add(r.payload.data.model.id);
            } else if (r.event === 'models:states') {
              for (const m of r.payload.data.models ?? []) {
                seen.add(m.id);
              }
            }
          }
          return seen.size === COUNT;
        },
        { timeoutMs: 180_000, what: `${COUNT} states at the client` },
      );
      const elapsed = performance.now() - start;
      const carried = (client.received.slice(from) as Received[]).filter((r) => r.event === 'models:status' || r.event === 'models:states');
      const sentBytes = carried.reduce((sum, r) => sum + bytes(r.payload), 0);
      // What one `models:status` per model weighs (envelope included), as before batching.
      const perModelBytes = states.reduce((sum, model, i) => sum + bytes({ type: 'broadcast', event: 'models:status', data: { nodeId: NODE_ID, model }, seq: 100_000 + i, timestamp: now }), 0);
      return [
        row({ figure: `${COUNT} models: broadcasts carrying the start-up states`, value: carried.length, unit: '', baseline: COUNT, baselineLabel: 'one per model' }),
        row({ figure: `${COUNT} models: bytes of those broadcasts (JSON)`, value: sentBytes / 1024, unit: 'KB', baseline: perModelBytes / 1024, baselineLabel: 'one per model' }),
        row({ figure: `${COUNT} models: first write → client holds every state`, value: elapsed, unit: 'ms' }),
      ];
    } finally {
      client?.close();
      await gateway?.stop();
      redis.disconnect();
      await redisFixture.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
