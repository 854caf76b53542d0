/**
 * Scale of the stored log, the metrics history and the Redis streams (`npm run bench -- scale`;
 * the models part of the scale issue has its own files with the same bench name):
 *
 *   - `logs:query` at LOG_ROWS lines for each filter kind (an absent text, a rare level, a model, a
 *     node, a time range, a combination): p50 of LOG_RUNS, after (the current schema and query)
 *     against before (the schema of migrations 1-2 and a plain filtered query, as main had before
 *     migration 3, on the same lines) in this run. Target: every filter under 20 ms.
 *   - The database file: its size with LOG_ROWS lines stored through `LogRepository.insert` (the
 *     full-text index in id partitions, migration 11), and after pruning a quarter of them with the
 *     gateway's own steps, tick by tick (bounded prune that drops emptied partitions, incremental
 *     vacuum); the baseline is the file before pruning. Also the worst tick, its prune and its vacuum.
 *   - Retention: a busy router's line rate, measured with the real llama-server (fixtures/
 *     router-line-rate.ts), and how many days of its lines the default retention keeps, against
 *     the previous default (200,000 lines, no debug-first pruning).
 *   - `metrics:history` over 24 h for 8 series asking for raw points: reply size and time, against
 *     the unbounded raw read.
 *   - Redis `used_memory` with a log stream holding 6 hours of batches (one every 2 s) that the
 *     gateway's consumer has stored: with trimming of acknowledged entries against without.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import { DEFAULT_DASHBOARD_SETTINGS, RedisKeys, STREAM_FIELD, type LogLevel, type LogRecord, type LogSource, type MetricsResolution } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { migrate, openDatabase, type Db } from '@llamaproxy/gateway/src/db/database.js';
import { MIGRATIONS } from '@llamaproxy/gateway/src/db/migrations.js';
import { databaseBytes } from '@llamaproxy/gateway/src/db/space.js';
import { LOG_DEBUG_MAX_AGE_MS, LogRepository, type LogQuery } from '@llamaproxy/gateway/src/repositories/log.repository.js';
import { MetricsRepository } from '@llamaproxy/gateway/src/repositories/metrics.repository.js';
import { StreamConsumer } from '@llamaproxy/gateway/src/repositories/stream-consumer.js';
import { runLogRetention } from '@llamaproxy/gateway/src/services/log-retention.js';
import { readMetricsHistory } from '@llamaproxy/gateway/src/services/metrics-history.js';
import { startRedis, waitFor } from '../src/harness/index.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';
import { measureRouterLineRate } from './fixtures/router-line-rate.js';
import { baselineUnboundedHistory, baselineUnindexedLogQuery } from './fixtures/unbounded-baseline.js';

/** Lines in the log fixture; SCALE_LOG_ROWS overrides it for a quick try. */
const LOG_ROWS = Number(process.env.SCALE_LOG_ROWS ?? 1_000_000);
const LOG_RUNS = 15;
const LOG_QUERY_TARGET_MS = 20;
const LINE_INTERVAL_MS = 250;
const DAY = 86_400_000;
const MODELS = ['qwen2.5-7b-instruct-q4_k_m', 'llama-3.2-3b-q8_0', 'gemma-2-9b-q4_k_m'];
/** A busy router (see the retention spec in log.repository.spec.ts): a chat completion every 4 s, two models loaded. */
const BUSY = { requestsPerDay: 86_400 / 4, loadedModels: 2 };
const PREVIOUS_DEFAULT_ROWS = 200_000;

const log = (line: string): void => void process.stderr.write(`[scale-logs bench] ${line}\n`);

function timeSync(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

const p50 = (fn: () => unknown, runs = LOG_RUNS): number => {
  fn();
  return percentile(Array.from({ length: runs }, () => timeSync(fn)), 50);
};

/**
 * Line `i` of LOG_ROWS lines a quarter second apart from `t0`, shaped like a busy router's:
 * llama-server info and debug about three models on node-a, a tenth from node-b, 0.1 % errors, 1 % warnings.
 */
function logLine(i: number, t0: number): LogRecord {
  const level: LogLevel = i % 1000 === 7 ? 'error' : i % 100 === 3 ? 'warn' : i % 3 === 0 ? 'debug' : 'info';
  const source: LogSource = i % 20 === 0 ? 'supervisor' : i % 20 === 1 ? 'gateway' : 'llama-server';
  const model = source === 'llama-server' ? (MODELS[i % 3] ?? null) : null;
  const message =
    level === 'error'
      ? `srv  send_error: task id = ${i}, error: the request exceeds the available context size (${4096 + (i % 7)} tokens)`
      : level === 'debug'
        ? `srv  proxy_reques: proxying request to model ${MODELS[i % 3] ?? ''} on port ${40000 + (i % 3)}`
        : `slot print_timing: id  ${i % 4} | task ${i} |        eval time =  ${(i % 900) + 100}.12 ms /   ${i % 300} tokens`;
  return { ts: t0 + i * LINE_INTERVAL_MS, level, source, nodeId: i % 10 === 9 ? 'node-b' : 'node-a', modelId: model, message };
}

/** LOG_ROWS lines (`logLine`) into the schema of migrations 1-2, as plain rows. */
function fillLogs(db: Database.Database, t0: number): void {
  const put = db.prepare('INSERT INTO logs (ts, level, source, node_id, model_id, message) VALUES (?, ?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < LOG_ROWS; i++) {
      const r = logLine(i, t0);
      put.run(r.ts, r.level, r.source, r.nodeId, r.modelId, r.message);
    }
  })();
}

/** The `logs:query` and prune figures (exported for a run of this part alone: `logFigures(dir)`). */
export async function logFigures(dir: string): Promise<BenchRow[]> {
  const path = join(dir, 'logs.db');
  const t0 = Date.now() - LOG_ROWS * LINE_INTERVAL_MS;
  const hourAgo = t0 + (LOG_ROWS - 14_400) * LINE_INTERVAL_MS;
  const queries: { name: string; q: LogQuery }[] = [
    { name: 'absent text', q: { text: 'no such text anywhere', limit: 200 } },
    { name: "level 'error'", q: { level: 'error', limit: 200 } },
    { name: 'one model', q: { modelId: 'llama-3.2-3b-q8_0', limit: 200 } },
    { name: 'an absent model', q: { modelId: 'not-a-model', limit: 200 } },
    { name: 'one node', q: { nodeId: 'node-b', limit: 200 } },
    { name: 'one hour, a day ago', q: { from: hourAgo - DAY, to: hourAgo - DAY + 3_600_000, limit: 200 } },
    { name: "level 'warn', one model, one hour ago", q: { level: 'warn', modelId: 'gemma-2-9b-q4_k_m', from: hourAgo, to: hourAgo + 3_600_000, limit: 200 } },
    { name: "common text, level 'error'", q: { text: 'task', level: 'error', limit: 200 } },
  ];
  // Before: the schema of migrations 1-2 (incremental vacuum on, so that only the queries differ).
  const before = new Database(path);
  before.pragma('auto_vacuum = INCREMENTAL');
  before.pragma('journal_mode = WAL');
  before.exec(MIGRATIONS[0] ?? '');
  before.exec(MIGRATIONS[1] ?? '');
  before.pragma('user_version = 2');
  const fillMs = timeSync(() => fillLogs(before, t0));
  log(`filled ${LOG_ROWS} lines in ${(fillMs / 1000).toFixed(1)} s`);
  const baseline = new Map(
    queries.map(({ name, q }) => {
      // The old query had no node or time filter: its closest is the same scan with them as conditions.
      const extra = q.nodeId !== undefined || q.from !== undefined;
      const value = extra ? Number.NaN : p50(() => baselineUnindexedLogQuery(before, q), 3);
      return [name, value] as const;
    }),
  );
  before.close();
  if (process.env.SCALE_LOG_MIGRATION === '1') {
    // Upgrading such a file (migration 3 builds the full-text index: tens of seconds at 1M lines).
    const old = new Database(path);
    const migrationMs = timeSync(() => migrate(old));
    log(`migrations 3-${MIGRATIONS.length} over ${LOG_ROWS} lines: ${(migrationMs / 1000).toFixed(1)} s`);
    old.close();
  }
  rmSync(path, { force: true });
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });

  // After: the same lines stored as the gateway stores them (every migration; the full-text index in id partitions).
  const db = openDatabase(path);
  const logs = new LogRepository(db);
  const insertMs = timeSync(() => {
    for (let start = 0; start < LOG_ROWS; start += 10_000) {
      const batch = Array.from({ length: Math.min(10_000, LOG_ROWS - start) }, (_, k) => logLine(start + k, t0));
      db.transaction(() => logs.insert(batch))();
    }
  });
  log(`stored ${LOG_ROWS} lines through LogRepository.insert in ${(insertMs / 1000).toFixed(1)} s`);
  const rows: BenchRow[] = [];
  for (const { name, q } of queries) {
    const value = p50(() => logs.query(q));
    const was = baseline.get(name) ?? Number.NaN;
    const count = logs.query(q).entries.length;
    log(`logs:query ${name}: p50 ${value.toFixed(2)} ms (${count} entries), baseline ${Number.isNaN(was) ? '-' : `${was.toFixed(1)} ms`}`);
    rows.push(
      row({
        figure: `logs:query ${name}, ${LOG_ROWS / 1e6}M lines (p50)`,
        value,
        unit: 'ms',
        ...(Number.isNaN(was) ? {} : { baseline: was, baselineLabel: 'no indexes (migrations 1-2)' }),
        target: `< ${LOG_QUERY_TARGET_MS} ms`,
        met: value < LOG_QUERY_TARGET_MS,
      }),
    );
  }

  // Space: lower the cap to three quarters of the lines, pruned as the gateway does every minute
  // (bounded prune, incremental vacuum), until nothing is left to prune or merge.
  db.pragma('wal_checkpoint(TRUNCATE)');
  const fullBytes = databaseBytes(path);
  const now = t0 + LOG_ROWS * LINE_INTERVAL_MS;
  // Each tick is the gateway's runLogRetention: slices (prune, then incremental vacuum) with the
  // event loop free between them; the longest slice is the longest the gateway is held.
  const ticks: number[] = [];
  const slices: number[] = [];
  const pruneSlices: number[] = [];
  const reclaimSlices: number[] = [];
  const partitionsBefore = db.prepare('SELECT COUNT(*) FROM logs_fts_partitions').pluck().get() as number;
  let removed = 0;
  let idle = 0;
  while (idle < 3 && ticks.length < 1000) {
    const run = await runLogRetention(logs, db, { maxRows: (LOG_ROWS * 3) / 4, maxAgeMs: 365 * DAY, now, debugMaxAgeMs: 365 * DAY });
    ticks.push(run.longestSliceMs);
    slices.push(run.longestSliceMs);
    pruneSlices.push(run.longestPruneMs);
    reclaimSlices.push(run.longestReclaimMs);
    removed += run.removed;
    idle = run.removed === 0 && run.freedPages === 0 ? idle + 1 : 0;
  }
  const prunedBytes = databaseBytes(path);
  const worstTick = Math.max(...slices);
  const partitionsAfter = db.prepare('SELECT COUNT(*) FROM logs_fts_partitions').pluck().get() as number;
  log(
    `file ${(fullBytes / 1e6).toFixed(0)} MB; down to three quarters: pruned ${removed} lines in ${ticks.length} ticks (longest slice ${worstTick.toFixed(0)} ms, p50 of the ticks' longest ${percentile(slices, 50).toFixed(0)} ms), ` +
      `full-text partitions ${partitionsBefore} -> ${partitionsAfter}: ${(prunedBytes / 1e6).toFixed(0)} MB`,
  );
  // Then down to half the lines: the rest of the debug lines and the oldest quarter of the others.
  let removedHalf = 0;
  const halfSlices: number[] = [];
  for (let tick = 0, idleHalf = 0; idleHalf < 3 && tick < 1000; tick++) {
    const run = await runLogRetention(logs, db, { maxRows: LOG_ROWS / 2, maxAgeMs: 365 * DAY, now, debugMaxAgeMs: 365 * DAY });
    halfSlices.push(run.longestSliceMs);
    pruneSlices.push(run.longestPruneMs);
    reclaimSlices.push(run.longestReclaimMs);
    removedHalf += run.removed;
    idleHalf = run.removed === 0 && run.freedPages === 0 ? idleHalf + 1 : 0;
  }
  const halfBytes = databaseBytes(path);
  log(`down to half: ${removedHalf} more lines, longest slice ${Math.max(...halfSlices).toFixed(0)} ms: ${(halfBytes / 1e6).toFixed(0)} MB`);
  const over = (xs: number[], ms: number): number => xs.filter((x) => x >= ms).length;
  log(
    `slices over both phases: prune longest ${Math.max(...pruneSlices).toFixed(0)} ms (p50 ${percentile(pruneSlices, 50).toFixed(0)} ms, ${over(pruneSlices, 50)} ticks >= 50 ms), ` +
      `reclaim longest ${Math.max(...reclaimSlices).toFixed(0)} ms (p50 ${percentile(reclaimSlices, 50).toFixed(0)} ms, ${over(reclaimSlices, 50)} ticks >= 50 ms) of ${pruneSlices.length} ticks`,
  );
  // The same queries once more, on the pruned file (its partitions partly pruned).
  for (const { name, q } of queries) {
    const value = p50(() => logs.query(q));
    log(`logs:query ${name} after the prune: p50 ${value.toFixed(2)} ms`);
    rows.push(row({ figure: `logs:query ${name}, after pruning to half (p50)`, value, unit: 'ms', target: `< ${LOG_QUERY_TARGET_MS} ms`, met: value < LOG_QUERY_TARGET_MS }));
  }
  db.close();
  rows.push(
    row({ figure: `database file with ${LOG_ROWS / 1e6}M log lines`, value: fullBytes / 1e6, unit: 'MB' }),
    row({
      figure: `database file after pruning a quarter (${ticks.length} prune ticks: bounded prune, partitions dropped, incremental vacuum)`,
      value: prunedBytes / 1e6,
      unit: 'MB',
      baseline: fullBytes / 1e6,
      baselineLabel: 'before pruning',
      target: 'smaller',
      met: prunedBytes < fullBytes,
    }),
    row({
      figure: 'database file after pruning down to half (every debug line, then the oldest of the others)',
      value: halfBytes / 1e6,
      unit: 'MB',
      baseline: fullBytes / 1e6,
      baselineLabel: 'before pruning',
      target: 'smaller',
      met: halfBytes < prunedBytes,
    }),
    row({ figure: 'longest slice of a prune tick (the event loop held; the gateway prunes every minute)', value: Math.max(worstTick, ...halfSlices), unit: 'ms', target: '< 50 ms', met: Math.max(worstTick, ...halfSlices) < 50 }),
    row({ figure: 'longest slice of a prune tick, p50 over the ticks', value: percentile([...slices, ...halfSlices], 50), unit: 'ms' }),
    row({ figure: 'longest prune slice (500 lines, partitions dropped)', value: Math.max(...pruneSlices), unit: 'ms' }),
    row({ figure: 'longest reclaim slice (500 pages, checkpoint)', value: Math.max(...reclaimSlices), unit: 'ms' }),
  );
  return rows;
}

async function retentionFigures(bytesPerLine: number): Promise<BenchRow[]> {
  const rate = await measureRouterLineRate(20, 100);
  log(`router: ${rate.linesPerRequest.toFixed(2)} lines per request ${JSON.stringify(rate.requestLevels)}, ${rate.pollLinesPerSec.toFixed(2)} poll lines/s per loaded model ${JSON.stringify(rate.pollLevels)}`);
  const debugPerRequest = (rate.requestLevels.debug ?? 0) / Math.max(1, Object.values(rate.requestLevels).reduce((a, b) => a + b, 0)) * rate.linesPerRequest;
  const perDay = {
    other: BUSY.requestsPerDay * (rate.linesPerRequest - debugPerRequest),
    debug: BUSY.requestsPerDay * debugPerRequest + BUSY.loadedModels * rate.pollLinesPerSec * 86_400,
  };
  const { logsMaxRows } = DEFAULT_DASHBOARD_SETTINGS.retention;
  // Now: debug lines are kept a day at most (and pruned first), the rest fills the cap.
  const debugKept = perDay.debug * Math.min(1, LOG_DEBUG_MAX_AGE_MS / DAY);
  const daysNow = (logsMaxRows - debugKept) / perDay.other;
  const daysBefore = PREVIOUS_DEFAULT_ROWS / (perDay.other + perDay.debug);
  const pollShare = (BUSY.loadedModels * rate.pollLinesPerSec * 86_400) / (perDay.other + perDay.debug);
  log(`busy router: ${Math.round(perDay.other)} lines/day + ${Math.round(perDay.debug)} debug lines/day (${(pollShare * 100).toFixed(0)} % our own polls)`);
  return [
    row({ figure: 'router lines per chat completion (real llama-server)', value: rate.linesPerRequest, unit: 'lines' }),
    row({ figure: 'router debug lines per loaded model from our own polls', value: rate.pollLinesPerSec, unit: 'lines/s' }),
    row({ figure: `busy router (request every 4 s, ${BUSY.loadedModels} models loaded): lines per day`, value: perDay.other + perDay.debug, unit: 'lines' }),
    row({
      figure: `days of a busy router's lines kept by the default retention (${logsMaxRows} lines)`,
      value: daysNow,
      unit: 'days',
      baseline: daysBefore,
      baselineLabel: `${PREVIOUS_DEFAULT_ROWS} lines, no debug-first`,
      target: '≥ 7 days',
      met: daysNow >= 7,
    }),
    row({ figure: 'disk at the default retention (bytes per line measured above)', value: (logsMaxRows * bytesPerLine) / 1e6, unit: 'MB' }),
  ];
}

async function metricsFigures(dir: string): Promise<BenchRow[]> {
  const db: Db = openDatabase(join(dir, 'metrics.db'));
  try {
    const now = Date.now();
    const names = ['cpu.usagePct', 'memory.usedBytes', 'gpu.0.utilizationPct', 'gpu.0.memoryUsedBytes', 'gpu.0.temperatureC', 'gpu.0.powerW', 'model.a.genTokensPerSec', 'model.a.promptTokensPerSec'];
    const metrics = new MetricsRepository(db);
    db.transaction(() => {
      for (let ts = now - DAY; ts < now; ts += 2000) {
        metrics.insert(ts, Object.fromEntries(names.map((n, i) => [n, 50 + 40 * Math.sin(ts / 3_600_000 + i)])));
      }
    })();
    const request = { from: now - DAY, to: now, resolution: 'raw' as MetricsResolution, series: names };
    let bytes = 0;
    let points = 0;
    const after: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = performance.now();
      const reply = await readMetricsHistory(metrics, request, now);
      const json = JSON.stringify(reply);
      after.push(performance.now() - started);
      bytes = json.length;
      points = Math.max(...Object.values(reply.series).map((p) => p.length));
    }
    let beforeBytes = 0;
    const beforeMs = timeSync(() => (beforeBytes = JSON.stringify({ resolution: 'raw', series: baselineUnboundedHistory(db, 'raw', names, request.from, request.to) }).length));
    const value = percentile(after, 50);
    log(`metrics:history 24 h raw, ${names.length} series: ${value.toFixed(1)} ms, ${(bytes / 1e3).toFixed(0)} KB, ${points} points per series (baseline ${beforeMs.toFixed(0)} ms, ${(beforeBytes / 1e6).toFixed(1)} MB)`);
    return [
      row({ figure: `metrics:history 24 h asking raw, ${names.length} series: read + JSON (p50 of 7)`, value, unit: 'ms', baseline: beforeMs, baselineLabel: 'raw points, unbounded' }),
      row({ figure: `metrics:history 24 h asking raw, ${names.length} series: reply size`, value: bytes / 1e6, unit: 'MB', baseline: beforeBytes / 1e6, baselineLabel: 'raw points, unbounded' }),
    ];
  } finally {
    db.close();
  }
}

/** Redis memory with a log stream of 6 hours of batches the gateway group has stored, trimmed or not. */
async function redisFigures(): Promise<BenchRow[]> {
  const redisFixture = await startRedis();
  const redis = new Redis(redisFixture.url);
  const logger = createLogger({ service: 'bench', level: 'error', format: 'json' });
  const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
  try {
    const measure = async (trim: boolean): Promise<number> => {
      await redis.flushall();
      const empty = await usedMemory();
      const now = Date.now();
      const entries = (6 * 3_600_000) / 2000;
      const pipeline = redis.pipeline();
      for (let i = 0; i < entries; i++) {
        const records = Array.from({ length: 10 }, (_, k) => ({
          ts: now, level: 'info', source: 'llama-server', nodeId: 'node-a', modelId: MODELS[k % 3],
          message: `slot print_timing: id  ${k % 4} | task ${i * 10 + k} |        eval time =  ${(i % 900) + 100}.12 ms /   ${k * 30} tokens`,
        }));
        pipeline.xadd(RedisKeys.logStream, `${now - (entries - i) * 2000}-0`, STREAM_FIELD, JSON.stringify({ records }));
      }
      await pipeline.exec();
      const consumer = new StreamConsumer(redis, [RedisKeys.logStream], 'bench', logger, { trimKeepMs: trim ? 60_000 : null, trimIntervalMs: 100 });
      await consumer.init();
      let stored = 0;
      consumer.start((batch) => void (stored += batch.length));
      await waitFor(() => stored === entries, { timeoutMs: 60_000, what: 'every entry stored' });
      if (trim) {
        await waitFor(async () => (await redis.xlen(RedisKeys.logStream)) < 200, { timeoutMs: 10_000, what: 'the stream trimmed' });
      }
      await consumer.stop();
      return (await usedMemory()) - empty;
    };
    const untrimmed = await measure(false);
    const trimmed = await measure(true);
    log(`redis used_memory for 6 h of stored log batches: ${(trimmed / 2 ** 20).toFixed(2)} MiB trimmed, ${(untrimmed / 2 ** 20).toFixed(2)} MiB kept`);
    return [row({ figure: 'Redis used_memory, log stream of 6 h of stored batches', value: trimmed / 2 ** 20, unit: 'MiB', baseline: untrimmed / 2 ** 20, baselineLabel: 'acknowledged entries kept' })];
  } finally {
    redis.disconnect();
    await redisFixture.stop();
  }
}

const bench: Bench = {
  name: 'scale',
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-scale-logs-'));
    try {
      const logRows = await logFigures(dir);
      const fileMb = logRows.find((r) => r.figure.startsWith('database file with'))?.value ?? 0;
      return [...logRows, ...(await retentionFigures((fileMb * 1e6) / LOG_ROWS)), ...(await metricsFigures(dir)), ...(await redisFigures())];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
