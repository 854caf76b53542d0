/**
 * Bounded work per request (the security issue's figures): how long one viewer request can hold the
 * gateway's event loop, before and after, measured side by side in this run against the same data.
 * The "before" code is kept verbatim in fixtures/unbounded-baseline.ts.
 *
 *   - `metrics:history` with `resolution: 'raw'`, `from: 0`, `to: 9e15`: one series named 64 times
 *     (the worst request), and 64 distinct series; the store holds 24 h of raw points at one per
 *     2 s, 14 days per minute and 365 days per hour for the first series, 365 days per hour for the
 *     other 63. Figure: the longest event-loop stall (perf_hooks.monitorEventLoopDelay, 1 ms
 *     resolution) over the handler's work and the JSON encoding of its reply, as the socket ack does.
 *   - `presets:validate` with a 500 KB INI of empty sections, and one of keys: the parse plus the
 *     handler's flag check, timed as the synchronous call it is.
 *   - `logs:query` at LOG_ROWS lines: `level: 'error'` and an absent text, before (the schema of
 *     migrations 1-2, the old query) and after (migration 3 applied to the same file, the new query).
 *     Also the time migration 3 takes to index those lines, and `logs:clear` of them all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { parsePresetIni, presetProblems, type LogLevel, type LogSource, type MetricsResolution } from '@llamaproxy/shared';
import { migrate, openDatabase, type Db } from '@llamaproxy/gateway/src/db/database.js';
import { MIGRATIONS } from '@llamaproxy/gateway/src/db/migrations.js';
import { LogRepository, type LogQuery } from '@llamaproxy/gateway/src/repositories/log.repository.js';
import { MetricsRepository } from '@llamaproxy/gateway/src/repositories/metrics.repository.js';
import { readMetricsHistory } from '@llamaproxy/gateway/src/services/metrics-history.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';
import { baselineQuadraticParsePresetIni, baselineUnboundedHistory, baselineUnindexedLogQuery } from './fixtures/unbounded-baseline.js';

const STALL_TARGET_MS = 50;
const LOG_QUERY_TARGET_MS = 50;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SAMPLE_INTERVAL_MS = 2000;
const DISTINCT_SERIES = 64;
const INI_BYTES = 500_000;
const LOG_ROWS = 200_000;
/**
 * Runs of the bounded code per figure; the table shows their median, the log their maximum too
 * (on a shared 2-core machine the maximum mostly measures the neighbours). The baselines run once:
 * they take seconds.
 */
const RUNS = 7;
const LOG_RUNS = 20;

const log = (line: string): void => void process.stderr.write(`[bounded-work bench] ${line}\n`);

/** The longest event-loop stall while `work` runs, and its wall time (ms). */
async function stall(work: () => Promise<unknown>): Promise<{ stallMs: number; wallMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(20);
  const started = performance.now();
  await work();
  const wallMs = performance.now() - started;
  // Let the timer run once more, so that the last blocked stretch is recorded.
  await sleep(20);
  histogram.disable();
  return { stallMs: histogram.max / 1e6, wallMs };
}

/** Fills the metrics store (see the file comment) straight into its table, in one transaction. */
function fillMetrics(db: Db, now: number): string[] {
  const names = Array.from({ length: DISTINCT_SERIES }, (_, i) => (i === 0 ? 'cpu.usagePct' : `gpu.${i}.utilizationPct`));
  const put = db.prepare('INSERT INTO metrics_points (tier, series, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const wave = (ts: number): number => 50 + 40 * Math.sin(ts / 3_600_000);
  db.transaction(() => {
    const first = names[0] ?? 'cpu.usagePct';
    for (let ts = now - DAY; ts < now; ts += SAMPLE_INTERVAL_MS) {
      put.run('raw', first, ts, wave(ts), wave(ts), wave(ts), 1);
    }
    for (let ts = now - 14 * DAY; ts < now; ts += 60_000) {
      put.run('minute', first, ts, wave(ts) - 5, wave(ts) + 5, 30 * wave(ts), 30);
    }
    for (const name of names) {
      for (let ts = now - 365 * DAY; ts < now; ts += HOUR) {
        put.run('hour', name, ts, wave(ts) - 20, wave(ts) + 20, 1800 * wave(ts), 1800);
      }
    }
  })();
  return names;
}

async function metricsFigures(dir: string): Promise<BenchRow[]> {
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const db = openDatabase(join(dir, 'metrics.db'));
  try {
    const names = fillMetrics(db, now);
    const metrics = new MetricsRepository(db);
    const worst = { from: 0, to: 9e15, resolution: 'raw' as MetricsResolution, series: Array<string>(64).fill(names[0] ?? '') };
    const distinct = { ...worst, series: names };

    const bounded = async (request: typeof worst): Promise<{ stallMs: number; wallMs: number; bytes: number; points: number }> => {
      let bytes = 0;
      let points = 0;
      const s = await stall(async () => {
        const reply = await readMetricsHistory(metrics, request, now);
        bytes = JSON.stringify(reply).length;
        points = Math.max(...Object.values(reply.series).map((p) => p.length));
      });
      return { ...s, bytes, points };
    };
    const unbounded = async (request: typeof worst, tier: 'raw' | 'hour'): Promise<{ stallMs: number; bytes: number }> => {
      let bytes = 0;
      const s = await stall(async () => {
        const reply = { resolution: tier, series: baselineUnboundedHistory(db, tier, request.series, request.from, request.to) };
        bytes = JSON.stringify(reply).length;
      });
      return { ...s, bytes };
    };

    await bounded(worst); // warm-up: statement compilation, JIT
    const worstRuns: Awaited<ReturnType<typeof bounded>>[] = [];
    const distinctRuns: Awaited<ReturnType<typeof bounded>>[] = [];
    for (let i = 0; i < RUNS; i++) {
      worstRuns.push(await bounded(worst));
      distinctRuns.push(await bounded(distinct));
    }
    const worstBefore = await unbounded(worst, 'raw');
    // The old code read the tier it was asked for; 'hour' is the tier the new code answers from.
    const distinctBefore = await unbounded(distinct, 'hour');

    const worstMax = Math.max(...worstRuns.map((r) => r.stallMs));
    const distinctMax = Math.max(...distinctRuns.map((r) => r.stallMs));
    const worst50 = percentile(worstRuns.map((r) => r.stallMs), 50);
    const distinct50 = percentile(distinctRuns.map((r) => r.stallMs), 50);
    const list = (runs: { stallMs: number }[]): string => runs.map((r) => r.stallMs.toFixed(1)).join(', ');
    log(`stalls per run (ms): 1 series × 64: ${list(worstRuns)}; ${DISTINCT_SERIES} series: ${list(distinctRuns)}`);
    log(
      `metrics:history 1 series × 64, raw 0..9e15: stall p50 ${worst50.toFixed(1)} ms, max ${worstMax.toFixed(1)} ms (baseline ${worstBefore.stallMs.toFixed(0)} ms), ` +
        `reply ${((worstRuns[0]?.bytes ?? 0) / 1000).toFixed(0)} KB (baseline ${(worstBefore.bytes / 1e6).toFixed(1)} MB), ${worstRuns[0]?.points ?? 0} points`,
    );
    log(
      `metrics:history ${DISTINCT_SERIES} series, raw 0..9e15: stall p50 ${distinct50.toFixed(1)} ms, max ${distinctMax.toFixed(1)} ms, wall p50 ${percentile(distinctRuns.map((r) => r.wallMs), 50).toFixed(0)} ms, ` +
        `reply ${((distinctRuns[0]?.bytes ?? 0) / 1e6).toFixed(1)} MB, ${distinctRuns[0]?.points ?? 0} points per series ` +
        `(baseline, hour tier unbounded: stall ${distinctBefore.stallMs.toFixed(0)} ms, ${(distinctBefore.bytes / 1e6).toFixed(1)} MB)`,
    );
    return [
      row({
        figure: `metrics:history raw 0..9e15, 1 series × 64: event-loop stall (p50 of ${RUNS})`,
        value: worst50,
        unit: 'ms',
        baseline: worstBefore.stallMs,
        baselineLabel: 'unbounded query',
        target: `< ${STALL_TARGET_MS} ms`,
        met: worst50 < STALL_TARGET_MS,
      }),
      row({
        figure: `metrics:history raw 0..9e15, ${DISTINCT_SERIES} series: event-loop stall (p50 of ${RUNS})`,
        value: distinct50,
        unit: 'ms',
        baseline: distinctBefore.stallMs,
        baselineLabel: 'unbounded, hour tier',
        target: `< ${STALL_TARGET_MS} ms`,
        met: distinct50 < STALL_TARGET_MS,
      }),
      row({
        figure: `metrics:history raw 0..9e15, ${DISTINCT_SERIES} series: reply size`,
        value: (distinctRuns[0]?.bytes ?? 0) / 1e6,
        unit: 'MB',
        baseline: distinctBefore.bytes / 1e6,
        baselineLabel: 'unbounded, hour tier',
      }),
    ];
  } finally {
    db.close();
  }
}

/** INI text of about INI_BYTES: `line(i)` repeated, after `header`. */
function iniOf(line: (i: number) => string, header: string[] = []): string {
  const out = [...header];
  let size = 0;
  for (let i = 0; size < INI_BYTES; i++) {
    const next = line(i);
    out.push(next);
    size += next.length + 1;
  }
  return out.join('\n');
}

/** The `presets:validate` handler's work for INI text, with the given parser. */
function validate(parse: typeof parsePresetIni, ini: string): boolean {
  const parsed = parse(ini);
  return parsed.ok && presetProblems(parsed.preset, null).length === 0;
}

function timeSync(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return performance.now() - started;
}

function presetFigures(): BenchRow[] {
  const cases = [
    { name: 'empty sections', ini: iniOf((i) => `[s${i}]`), target: true },
    { name: 'keys in one section', ini: iniOf((i) => `key-${i} = ${i}`, ['[model]']), target: false },
  ];
  const rows: BenchRow[] = [];
  for (const c of cases) {
    validate(parsePresetIni, c.ini); // warm-up
    const after = Array.from({ length: RUNS }, () => timeSync(() => validate(parsePresetIni, c.ini)));
    const before = timeSync(() => validate(baselineQuadraticParsePresetIni, c.ini));
    const value = percentile(after, 50);
    log(`presets:validate ${(c.ini.length / 1000).toFixed(0)} KB of ${c.name}: p50 ${value.toFixed(1)} ms, max ${Math.max(...after).toFixed(1)} ms, baseline ${before.toFixed(0)} ms`);
    rows.push(
      row({
        figure: `presets:validate ${(c.ini.length / 1000).toFixed(0)} KB INI of ${c.name}: synchronous call (p50 of ${RUNS})`,
        value,
        unit: 'ms',
        baseline: before,
        baselineLabel: 'quadratic parser',
        ...(c.target ? { target: `< ${STALL_TARGET_MS} ms`, met: value < STALL_TARGET_MS } : {}),
      }),
    );
  }
  return rows;
}

/** LOG_ROWS lines: mostly llama-server info/debug about three models; 0.1 % errors, 1 % warnings. */
function fillLogs(db: Database.Database): void {
  const put = db.prepare('INSERT INTO logs (ts, level, source, node_id, model_id, message) VALUES (?, ?, ?, ?, ?, ?)');
  const models = ['qwen2.5-7b-instruct-q4_k_m', 'llama-3.2-3b-q8_0', 'gemma-2-9b-q4_k_m'];
  const t0 = Date.now() - LOG_ROWS * 100;
  db.transaction(() => {
    for (let i = 0; i < LOG_ROWS; i++) {
      const level: LogLevel = i % 1000 === 7 ? 'error' : i % 100 === 3 ? 'warn' : i % 3 === 0 ? 'debug' : 'info';
      const source: LogSource = i % 20 === 0 ? 'supervisor' : i % 20 === 1 ? 'gateway' : 'llama-server';
      const model = source === 'llama-server' ? (models[i % 3] ?? null) : null;
      const message =
        level === 'error'
          ? `srv  send_error: task id = ${i}, error: the request exceeds the available context size (${4096 + (i % 7)} tokens)`
          : `slot update_slots: id  ${i % 4} | task ${i} | prompt processing progress, n_past = ${(i * 37) % 8192}, n_tokens = 512, progress = 0.${i % 97}`;
      put.run(t0 + i * 100, level, source, 'node-a', model, message);
    }
  })();
}

function logFigures(dir: string): BenchRow[] {
  const path = join(dir, 'logs.db');
  // "Before": the schema of migrations 1-2, as main had it, with LOG_ROWS lines.
  const before = new Database(path);
  before.pragma('journal_mode = WAL');
  before.exec(MIGRATIONS[0] ?? '');
  before.exec(MIGRATIONS[1] ?? '');
  before.pragma('user_version = 2');
  fillLogs(before);
  const queries: { name: string; q: LogQuery }[] = [
    { name: "level 'error'", q: { level: 'error', limit: 200 } },
    { name: 'absent text', q: { text: 'no such text anywhere', limit: 200 } },
    { name: "level 'warn', source llama-server, one model", q: { level: 'warn', source: 'llama-server', modelId: 'llama-3.2-3b-q8_0', limit: 200 } },
    { name: "common text, level 'error'", q: { text: 'task', level: 'error', limit: 200 } },
  ];
  const p50 = (fn: () => unknown): number => {
    fn();
    return percentile(Array.from({ length: LOG_RUNS }, () => timeSync(fn)), 50);
  };
  const baseline = new Map(queries.map(({ name, q }) => [name, p50(() => baselineUnindexedLogQuery(before, q))]));
  before.close();

  // "After": migration 3 on the same file, then the new query.
  const after = new Database(path);
  const migrationMs = timeSync(() => migrate(after));
  const logs = new LogRepository(after);
  const rows: BenchRow[] = [row({ figure: `migration 3 (full-text index, filter indexes) over ${LOG_ROWS / 1000}k log lines`, value: migrationMs, unit: 'ms' })];
  for (const { name, q } of queries) {
    const value = p50(() => logs.query(q));
    const was = baseline.get(name) ?? null;
    log(`logs:query ${name} at ${LOG_ROWS} lines: p50 ${value.toFixed(2)} ms, baseline ${was?.toFixed(1) ?? '-'} ms`);
    rows.push(
      row({
        figure: `logs:query ${name}, ${LOG_ROWS / 1000}k lines (p50)`,
        value,
        unit: 'ms',
        baseline: was,
        baselineLabel: 'no indexes',
        target: `< ${LOG_QUERY_TARGET_MS} ms`,
        met: value < LOG_QUERY_TARGET_MS,
      }),
    );
  }
  const clearMs = timeSync(() => logs.clear());
  rows.push(row({ figure: `logs:clear of ${LOG_ROWS / 1000}k lines (table and full-text index)`, value: clearMs, unit: 'ms' }));
  after.close();
  return rows;
}

const bench: Bench = {
  name: 'bounded-work',
  async run(): Promise<BenchRow[]> {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-bounded-'));
    try {
      return [...(await metricsFigures(dir)), ...presetFigures(), ...logFigures(dir)];
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
