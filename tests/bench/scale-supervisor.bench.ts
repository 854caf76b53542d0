import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { NODE_MODELS_DIGEST_FIELD, NODE_OFFLINE_AFTER_MS, NodeRedisKeys, RedisKeys } from '@llamaproxy/shared';
import { readModelInfo } from '../../services/supervisor/src/gguf/gguf-reader.js';
import { CatalogueScanner } from '../../services/supervisor/src/services/catalogue.js';
import { writeModelFarm } from '../src/gguf/model-farm.js';
import { ensureLlamaServer, expectOk, freePort, ManagedProcess, processGroupMembers, startRedis, startService, waitFor } from '../src/harness/index.js';
import { FaultStack } from '../faults/support/stack.js';
import { row, type Bench, type BenchRow } from './bench.js';

const SIZES = (process.env.SCALE_BENCH_SIZES ?? '100,1000,5000').split(',').map(Number);
const MIB = 1024 * 1024;
const PROBE = fileURLToPath(new URL('./fixtures/memory-probe.mjs', import.meta.url));

/** The issue's "before" figures (main before issue 17, `npm run dev`), for the rows' baseline column. */
const BEFORE: Record<number, { heapMiB: number | null; jobsS: number | null }> = {
  100: { heapMiB: 42, jobsS: 3.3 },
  1000: { heapMiB: 239, jobsS: 7.3 },
  5000: { heapMiB: null, jobsS: null }, // out of memory
};

interface StartFigures {
  /** Spawn → the worker takes control jobs (its "taking control jobs" line). */
  jobsMs: number;
  /** Spawn → the complete catalogue is on the status stream. */
  catalogueMs: number;
  /** Spawn → every model's state is in the node's models hash. */
  statesMs: number;
  peakHeap: number;
  peakRss: number;
}

/**
 * Issue 17, supervisor side: at 100, 1,000 and 5,000 models (hard links: half loadable tiny
 * models, half metadata-only headers with a 151,936-token vocabulary), the supervisor's peak heap
 * and RSS and its start-up times, cold (no catalogue cache) and warm (a restart over the cache
 * file); and the header read per file, alone and within a catalogue scan.
 * `SCALE_BENCH_SIZES=100,1000` runs fewer sizes.
 */
const bench: Bench = {
  name: 'scale',
  async run() {
    const rows: BenchRow[] = [];
    const redis = await startRedis();
    const bin = await ensureLlamaServer();
    const client = new Redis(redis.url, { maxRetriesPerRequest: null });
    try {
      for (const count of SIZES) {
        const dir = mkdtempSync(join(tmpdir(), `llamaproxy-bench-scale-${count}-`));
        try {
          const farm = await writeModelFarm(join(dir, 'models'), { count, headers: Math.floor(count / 2) });
          const nodeId = `scale-${count}`;
          const start = (): Promise<StartFigures> => startSupervisor({ dir, nodeId, count, bin, redisUrl: redis.url, client });
          const cold = await start();
          const warm = await start();
          const before = BEFORE[count];
          rows.push(
            row({
              figure: `${count} models: supervisor peak heap (cold start)`,
              value: cold.peakHeap / MIB,
              unit: 'MiB',
              baseline: before?.heapMiB ?? null,
              baselineLabel: before === undefined ? null : before.heapMiB === null ? null : 'issue 17, before',
              ...(count === 5000 ? { target: '< 150 MiB', met: cold.peakHeap / MIB < 150 } : {}),
            }),
            row({ figure: `${count} models: supervisor peak RSS (cold start)`, value: cold.peakRss / MIB, unit: 'MiB' }),
            row({
              figure: `${count} models: start → supervisor accepts jobs (cold)`,
              value: cold.jobsMs / 1000,
              unit: 's',
              baseline: before?.jobsS ?? null,
              baselineLabel: before?.jobsS === null || before === undefined ? null : 'issue 17, before',
              ...(count === 5000 ? { target: '< 10 s', met: cold.jobsMs < 10_000 } : {}),
            }),
            row({ figure: `${count} models: start → complete catalogue published (cold / warm)`, value: cold.catalogueMs / 1000, unit: 's', baseline: warm.catalogueMs / 1000, baselineLabel: 'warm: cache file' }),
            row({ figure: `${count} models: start → every model state published (cold)`, value: cold.statesMs / 1000, unit: 's' }),
            row({ figure: `${count} models: start → supervisor accepts jobs (warm)`, value: warm.jobsMs / 1000, unit: 's' }),
            row({ figure: `${count} models: supervisor peak heap (warm start)`, value: warm.peakHeap / MIB, unit: 'MiB' }),
          );
          if (count === Math.max(...SIZES)) {
            rows.push(...(await headerReads(join(dir, 'models'), farm.headers, farm.headerBytes)));
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      if (process.env.SCALE_BENCH_SUPERVISOR_ROOT === undefined) {
        rows.push(...(await staleAfterKill(bin)));
      }
    } finally {
      client.disconnect();
      await redis.stop();
    }
    return rows;
  },
};

/** Starts the supervisor over the farm, measures, stops it. */
async function startSupervisor(o: { dir: string; nodeId: string; count: number; bin: string; redisUrl: string; client: Redis }): Promise<StartFigures> {
  const probeFile = join(o.dir, `probe-${Date.now()}.json`);
  await o.client.del(NodeRedisKeys.models(o.nodeId), RedisKeys.nodeSnapshot(o.nodeId));
  const streamStart = await lastStreamId(o.client);
  const t0 = performance.now();
  const env = {
    REDIS_URL: o.redisUrl,
    SUPERVISOR_NODE_ID: o.nodeId,
    LLAMA_SERVER_BIN: o.bin,
    MODELS_DIR: join(o.dir, 'models'),
    SUPERVISOR_DATA_DIR: join(o.dir, 'supervisor'),
    LLAMA_PORT: String(await freePort()),
    LLAMA_CTX_SIZE: '512',
    LLAMA_MODELS_AUTOLOAD: 'false',
    LOG_LEVEL: 'info',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${PROBE}`.trim(),
    MEMORY_PROBE_FILE: probeFile,
  };
  // SCALE_BENCH_SUPERVISOR_ROOT: another checkout (e.g. `git archive <before> | tar -x`) whose supervisor to measure instead.
  const otherRoot = process.env.SCALE_BENCH_SUPERVISOR_ROOT;
  const supervisor: ManagedProcess =
    otherRoot === undefined
      ? startService('supervisor', env)
      : new ManagedProcess(process.execPath, ['--conditions=development', '--import', 'tsx', join(otherRoot, 'services', 'supervisor', 'src', 'main.ts')], {
          name: 'supervisor (other root)',
          cwd: otherRoot,
          env: { ...process.env, NODE_ENV: 'test', LOG_FORMAT: 'json', ...env },
        });
  try {
    const figures: Partial<StartFigures> = {};
    // SCALE_BENCH_DEBUG=1: where start-up time goes (the supervisor's own lines, ms after spawn).
    const timeline: string[] = [];
    supervisor.onLine((line) => {
      if (line.startsWith('{') && line.includes('"service":"supervisor"') && !line.includes('"module":"llama-output"')) {
        timeline.push(`  ${Math.round(performance.now() - t0)} ms ${/"message":"([^"]*)"/.exec(line)?.[1] ?? ''}`);
      }
      if (figures.jobsMs === undefined && line.includes('"message":"taking control jobs"')) {
        figures.jobsMs = performance.now() - t0;
      }
    });
    let cursor = streamStart;
    await waitFor(
      async () => {
        if (figures.catalogueMs === undefined) {
          const found = await catalogueSince(o.client, cursor, o.nodeId, o.count);
          cursor = found.cursor;
          if (found.complete) {
            figures.catalogueMs = performance.now() - t0;
          }
        }
        if (figures.statesMs === undefined && otherRoot !== undefined) {
          figures.statesMs = Number.NaN; // older supervisors keep no models hash
        }
        if (figures.statesMs === undefined) {
          const digest = await o.client.hget(NodeRedisKeys.models(o.nodeId), NODE_MODELS_DIGEST_FIELD);
          if (digest?.startsWith(`${o.count}-`) === true) {
            figures.statesMs = performance.now() - t0;
          }
        }
        return figures.jobsMs !== undefined && figures.catalogueMs !== undefined && figures.statesMs !== undefined;
      },
      { timeoutMs: 240_000, intervalMs: 50, what: `supervisor over ${o.count} models started (${supervisor.tail(5)})` },
    );
    // One heartbeat later, so the steady state is in the peak too.
    const settled = Date.now() + 2000;
    await waitFor(() => Date.now() >= settled && readProbe(probeFile).at >= settled, { timeoutMs: 10_000, intervalMs: 100, what: 'memory probe' });
    const probe = readProbe(probeFile);
    if (process.env.SCALE_BENCH_DEBUG === '1') {
      process.stderr.write(`${timeline.join('\n')}\n`);
    }
    return { jobsMs: figures.jobsMs as number, catalogueMs: figures.catalogueMs as number, statesMs: figures.statesMs as number, peakHeap: probe.heapUsed, peakRss: probe.rss };
  } finally {
    await supervisor.stop(20_000);
  }
}

function readProbe(file: string): { heapUsed: number; rss: number; at: number } {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; rss: number; at: number };
  } catch {
    return { heapUsed: 0, rss: 0, at: 0 };
  }
}

async function lastStreamId(client: Redis): Promise<string> {
  const last = await client.xrevrange(RedisKeys.statusStream, '+', '-', 'COUNT', 1);
  return last[0]?.[0] ?? '0-0';
}

/** Whether a complete `catalogue` event of `count` entries from `nodeId` arrived after `cursor` (read without parsing the rest). */
async function catalogueSince(client: Redis, cursor: string, nodeId: string, count: number): Promise<{ cursor: string; complete: boolean }> {
  const entries = await client.xrange(RedisKeys.statusStream, `(${cursor}`, '+', 'COUNT', 5000);
  let complete = false;
  let next = cursor;
  for (const [id, fields] of entries) {
    next = id;
    const data = fields[1] ?? '';
    if (data.startsWith('{"kind":"catalogue","nodeId":' + JSON.stringify(nodeId))) {
      const event = JSON.parse(data) as { catalogue: { entries: unknown[] } };
      complete ||= event.catalogue.entries.length === count;
    }
  }
  return { cursor: next, complete };
}

/**
 * kill -9 of the supervisor (with a model loaded) → its llama-server process group is gone, and →
 * a client gets the node's `nodes:status` with `stale: true` (presence key expired), against the
 * silence rule it replaces (NODE_OFFLINE_AFTER_MS).
 */
async function staleAfterKill(bin: string): Promise<BenchRow[]> {
  const stack = await FaultStack.start({ name: 'bench-stale', llamaServerBin: bin });
  try {
    const client = await stack.connect();
    const router = await stack.waitForLlama((s) => s.state === 'running' && s.pid !== null, 'running');
    expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' }));
    await client.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded', { timeoutMs: 60_000 });
    await waitFor(async () => expectOk(await client.request('snapshot:get', {})).nodes.some((n) => n.nodeId === stack.nodeId && n.online), { timeoutMs: 20_000, what: 'node online' });
    const t0 = performance.now();
    const stale = client.waitForBroadcast('nodes:status', (e) => e.data.node.nodeId === stack.nodeId && e.data.node.stale === true, { timeoutMs: 60_000 }).then(() => performance.now() - t0);
    stack.supervisor.kill('SIGKILL');
    await waitFor(() => processGroupMembers(router.pid as number).length === 0, { timeoutMs: 30_000, intervalMs: 5, what: 'llama-server group gone' });
    const goneMs = performance.now() - t0;
    const staleMs = await stale;
    return [
      row({ figure: 'supervisor kill -9 → llama-server and its model instance gone', value: goneMs, unit: 'ms' }),
      row({ figure: 'supervisor kill -9 → clients told the node is stale', value: staleMs / 1000, unit: 's', baseline: NODE_OFFLINE_AFTER_MS / 1000, baselineLabel: 'silence rule, before' }),
    ];
  } finally {
    await stack.dispose();
  }
}

/** The large-vocabulary header read: alone, one file after another, and in a cold catalogue scan (4 at a time). */
async function headerReads(modelsDir: string, headers: string[], headerBytes: number): Promise<BenchRow[]> {
  const files = headers.slice(0, 300).map((id) => join(modelsDir, `${id}.gguf`));
  await readModelInfo(files[0] as string); // warm-up
  const t0 = performance.now();
  for (const file of files) {
    await readModelInfo(file);
  }
  const alone = (performance.now() - t0) / files.length;
  // Same run, same files: only reading their bytes (the floor for any reader: lengths are inline).
  const buffer = Buffer.allocUnsafe(headerBytes);
  const t2 = performance.now();
  for (const file of files) {
    const handle = await open(file, 'r');
    await handle.read(buffer, 0, headerBytes, 0);
    await handle.close();
  }
  const rawRead = (performance.now() - t2) / files.length;
  const scanner = new CatalogueScanner('bench', modelsDir);
  const t1 = performance.now();
  const catalogue = await scanner.scan();
  const scanPerFile = (performance.now() - t1) / catalogue.entries.length;
  return [
    row({
      figure: `header read, ${Math.round(headerBytes / 1024)} KiB, 151,936-token vocabulary (per file, one at a time, n=${files.length})`,
      value: alone,
      unit: 'ms',
      baseline: rawRead,
      baselineLabel: 'reading its bytes only',
      target: '< 2 ms',
      met: alone < 2,
    }),
    row({ figure: `cold catalogue scan of ${catalogue.entries.length} entries (per entry, 4 at a time)`, value: scanPerFile, unit: 'ms' }),
  ];
}

export default bench;
