import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DASHBOARD_SETTINGS, LOG_LEVEL_RANK, type LogEntry, type LogRecord } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { LOG_FTS_PARTITION_LINES } from './log-fts-partitions.js';
import { LOG_TIME_SLACK_MS, LogRepository, type LogQuery } from './log.repository.js';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-logrepo-'));
  db = openDatabase(join(dir, 'test.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Records the query plan (`EXPLAIN QUERY PLAN`, with the same parameters) of every SELECT that `db`
 * runs while `fn` runs: one list of plan lines per statement.
 */
function plansOf(fn: () => void): string[][] {
  const plans: string[][] = [];
  const prepare = db.prepare.bind(db);
  const explain = (sql: string, params: unknown[]): void => {
    plans.push((prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail));
  };
  db.prepare = ((sql: string) => {
    const stmt = prepare(sql);
    if (/^\s*SELECT/i.test(sql)) {
      for (const method of ['all', 'get'] as const) {
        const run: (...params: unknown[]) => unknown = stmt[method].bind(stmt);
        (stmt as unknown as Record<string, unknown>)[method] = (...params: unknown[]) => {
          explain(sql, params);
          return run(...params);
        };
      }
    }
    return stmt;
  }) as Db['prepare'];
  try {
    fn();
  } finally {
    db.prepare = prepare;
  }
  return plans;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
const levels = ['error', 'warn', 'info', 'debug'] as const;

/** `n` lines a minute apart from `t0`, over 3 nodes, 3 sources, 2 models and 4 levels. */
function lines(n: number, t0 = 1_700_000_000_000): LogRecord[] {
  const sources = ['gateway', 'llama-server', 'supervisor'] as const;
  return Array.from({ length: n }, (_, i) => ({
    ts: t0 + i * MINUTE,
    level: levels[(i * 7) % 11 === 0 ? 0 : (i * 5) % 4] ?? 'info',
    source: sources[i % 3] ?? 'gateway',
    nodeId: `node-${i % 5 === 0 ? 'b' : i % 7 === 0 ? 'c' : 'a'}`,
    modelId: i % 4 === 0 ? 'm1' : i % 4 === 1 ? 'm2' : null,
    message: `${i % 9 === 0 ? 'Disk FULL' : 'disk ok'} k_${i % 13} t${i}`,
  }));
}

/** A plan line that reads the logs table, or one of its indexes, from end to end. */
const fullScan = (detail: string): boolean => /^SCAN (l|logs)\b/.test(detail);

describe(LogRepository.name, () => {
  const t0 = 1_700_000_000_000;
  const planCases: { name: string; q: Omit<LogQuery, 'limit'>; reads: RegExp[] }[] = [
    { name: 'a rare level', q: { level: 'error' }, reads: [/USING INDEX logs_level_id \(level=\?/] },
    { name: 'a level and worse', q: { level: 'warn' }, reads: [/USING INDEX logs_level_id \(level=\?/] },
    { name: 'a source', q: { source: 'supervisor' }, reads: [/USING INDEX logs_source_id \(source=\?/] },
    { name: 'a model', q: { modelId: 'm2' }, reads: [/USING INDEX logs_model_id \(model_id=\?/] },
    { name: 'a node', q: { nodeId: 'node-c' }, reads: [/USING INDEX logs_node_id \(node_id=\?/] },
    { name: 'an absent text', q: { text: 'no such text anywhere' }, reads: [/logs_fts_\d+ VIRTUAL TABLE/] },
    { name: 'a text too short for the index', q: { text: 'zq' }, reads: [/INTEGER PRIMARY KEY \(rowid>\?/] },
    { name: 'a time range', q: { from: t0 + 100 * MINUTE, to: t0 + 120 * MINUTE }, reads: [/logs_ts \(ts<\?\)/, /logs_ts \(ts>\?\)/, /INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/] },
    { name: 'a level and a source', q: { level: 'warn', source: 'gateway' }, reads: [/logs_level_source_id \(level=\? AND source=\?/] },
    { name: 'a level and a model', q: { level: 'error', modelId: 'm1' }, reads: [/logs_level_model_id \(level=\? AND model_id=\?/] },
    { name: 'a level and a node', q: { level: 'error', nodeId: 'node-b' }, reads: [/logs_level_id \(level=\?/] },
    { name: 'a source, a model and a node', q: { source: 'gateway', modelId: 'm1', nodeId: 'node-a' }, reads: [/logs_model_id \(model_id=\?/] },
    { name: 'a level and a time range', q: { level: 'error', from: t0 + 100 * MINUTE, to: t0 + 120 * MINUTE }, reads: [/logs_level_id \(level=\? AND id>\? AND id<\?\)/] },
    { name: 'a text and a level (its newest lines probed first)', q: { text: 'disk full', level: 'error' }, reads: [/logs_level_id \(level=\?/] },
    { name: 'an absent text and a level and worse', q: { text: 'no such text', level: 'warn' }, reads: [/logs_fts_\d+ VIRTUAL TABLE/] },
    {
      name: 'everything at once',
      q: { text: 'disk full', level: 'warn', source: 'gateway', modelId: 'm1', nodeId: 'node-a', from: t0, to: t0 + 200 * MINUTE },
      reads: [/logs_fts_\d+ VIRTUAL TABLE/, /logs_ts \(ts<\?\)|logs_ts \(ts>\?\)/],
    },
  ];

  it.each(planCases)('answers $name from indexes, never by reading the whole table', ({ q, reads }) => {
    const sut = new LogRepository(db);
    sut.insert(lines(300, t0 - 30 * MINUTE));
    for (const cursor of [{}, { beforeId: 250 }, { afterId: 20 }]) {
      const plans = plansOf(() => sut.query({ ...q, ...cursor, limit: 10 }));
      const details = plans.flat();
      expect(details.filter(fullScan), JSON.stringify(plans)).toEqual([]);
      for (const pattern of reads) {
        expect(details.some((d) => pattern.test(d)), `${pattern} in ${JSON.stringify(plans)}`).toBe(true);
      }
    }
  });

  it.each([LOG_FTS_PARTITION_LINES, 16])('returns what a filter over every line returns, with nodes and time ranges (%i ids per full-text partition)', (partitionLines) => {
    const sut = new LogRepository(db, { scanWindowRows: 1000, textCandidates: 7, partitionLines });
    const all = sut.insert(lines(240, t0));
    const expected = (q: LogQuery): { entries: LogEntry[]; hasMore: boolean } => {
      const text = q.text?.toLowerCase();
      const rows = all.filter(
        (e) =>
          (q.level === undefined || LOG_LEVEL_RANK[e.level] <= LOG_LEVEL_RANK[q.level]) &&
          (q.modelId === undefined || e.modelId === q.modelId) &&
          (q.nodeId === undefined || e.nodeId === q.nodeId) &&
          (q.from === undefined || e.ts >= q.from) &&
          (q.to === undefined || e.ts <= q.to) &&
          (q.afterId === undefined || e.id > q.afterId) &&
          (q.beforeId === undefined || e.id < q.beforeId) &&
          (text === undefined || e.message.toLowerCase().includes(text)),
      );
      if (q.afterId === undefined) {
        rows.reverse();
      }
      return { entries: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
    };
    let checked = 0;
    for (const level of [undefined, 'error', 'warn'] as const) {
      for (const modelId of [undefined, 'm1']) {
        for (const nodeId of [undefined, 'node-a', 'node-c', 'node-x']) {
          for (const text of [undefined, 'disk full', 'k_1', 'zzz']) {
            for (const range of [{}, { from: t0 + 30 * MINUTE }, { to: t0 + 90 * MINUTE }, { from: t0 + 60 * MINUTE, to: t0 + 61 * MINUTE }, { from: t0 + 500 * MINUTE }]) {
              for (const cursor of [{}, { afterId: 100 }, { beforeId: 150 }]) {
                const q: LogQuery = { level, modelId, nodeId, text, ...range, ...cursor, limit: 5 };
                expect(sut.query(q), JSON.stringify(q)).toEqual(expected(q));
                checked++;
              }
            }
          }
        }
      }
    }
    expect(checked).toBe(3 * 2 * 4 * 4 * 5 * 3);
  });

  it('pages across full-text partitions as a scan over the kept lines does, after a prune left partitions partly pruned', () => {
    const sut = new LogRepository(db, { textCandidates: 7, filterProbeRows: 5, partitionLines: 16 });
    sut.insert(lines(400, t0));
    // Over the cap: debug lines go first, then the oldest; partitions with no line left are dropped.
    expect(sut.prune(250, 30 * DAY, t0 + 400 * MINUTE, 30 * DAY, 1_000)).toBe(150);
    const partitions = db.prepare('SELECT name FROM logs_fts_partitions').pluck().all() as string[];
    expect(partitions).not.toContain('logs_fts_0');
    expect(partitions.length).toBeGreaterThan(10);
    const kept = sut.query({ afterId: 0, limit: 1000 }).entries;
    expect(kept).toHaveLength(250);
    const walk = (q: Omit<LogQuery, 'limit'>, ascending: boolean): LogEntry[] => {
      const seen: LogEntry[] = [];
      for (let pages = 0; pages < 200; pages++) {
        const last = seen.at(-1)?.id;
        const cursor = ascending ? { afterId: last ?? 0 } : last === undefined ? {} : { beforeId: last };
        const page = sut.query({ ...q, ...cursor, limit: 7 });
        seen.push(...page.entries);
        if (!page.hasMore) {
          return seen;
        }
      }
      throw new Error('paging did not end');
    };
    let walked = 0;
    for (const text of ['disk full', 'k_1', 'DISK', 'zzz']) {
      for (const level of [undefined, 'error', 'warn', 'debug'] as const) {
        for (const modelId of [undefined, 'm2']) {
          const q = { text, level, modelId };
          const want = kept.filter(
            (e) =>
              e.message.toLowerCase().includes(text.toLowerCase()) &&
              (level === undefined || LOG_LEVEL_RANK[e.level] <= LOG_LEVEL_RANK[level]) &&
              (modelId === undefined || e.modelId === modelId),
          );
          expect(walk(q, true), JSON.stringify(q)).toEqual(want);
          expect(walk(q, false), JSON.stringify(q)).toEqual([...want].reverse());
          walked += want.length;
        }
      }
    }
    expect(walked).toBeGreaterThan(500);
  });

  it('finds lines stored out of time order by less than LOG_TIME_SLACK_MS', () => {
    const sut = new LogRepository(db);
    const now = t0;
    // A node's line from 10 minutes ago arrives after newer lines of another node.
    sut.insert([{ ...lines(1, now)[0]!, message: 'fresh' }, { ...lines(1, now + MINUTE)[0]!, message: 'fresher' }]);
    sut.insert([{ ...lines(1, now - 10 * MINUTE)[0]!, message: 'late', nodeId: 'node-late' }]);
    sut.insert(lines(50, now + 2 * MINUTE));
    expect(LOG_TIME_SLACK_MS).toBeGreaterThan(10 * MINUTE);
    expect(sut.query({ from: now - 11 * MINUTE, to: now - 9 * MINUTE, limit: 10 }).entries.map((e) => e.message)).toEqual(['late']);
  });

  describe('prune', () => {
    it('removes at most maxLines lines per call', () => {
      const sut = new LogRepository(db);
      sut.insert(lines(30, t0));
      expect(sut.prune(10, 30 * DAY, t0 + DAY, DAY, 8)).toBe(8);
      expect(sut.prune(10, 30 * DAY, t0 + DAY, DAY, 8)).toBe(8);
      expect(sut.prune(10, 30 * DAY, t0 + DAY, DAY, 8)).toBe(4);
      expect(sut.prune(10, 30 * DAY, t0 + DAY, DAY, 8)).toBe(0);
    });

    it('removes debug lines first when over the row cap, then the oldest of any level', () => {
      const sut = new LogRepository(db);
      const now = t0 + DAY;
      const at = (i: number, level: LogRecord['level']): LogRecord => ({ ...lines(1, t0 + i * MINUTE)[0]!, level, message: `${level} ${i}` });
      sut.insert([at(0, 'info'), at(1, 'debug'), at(2, 'warn'), at(3, 'debug'), at(4, 'info'), at(5, 'debug')]);
      expect(sut.prune(4, 30 * DAY, now)).toBe(2);
      expect(sut.query({ afterId: 0, limit: 10 }).entries.map((e) => e.message)).toEqual(['info 0', 'warn 2', 'info 4', 'debug 5']);
      expect(sut.prune(2, 30 * DAY, now)).toBe(2);
      expect(sut.query({ afterId: 0, limit: 10 }).entries.map((e) => e.message)).toEqual(['warn 2', 'info 4']);
    });

    it('keeps debug lines for debugMaxAgeMs and other lines for maxAgeMs', () => {
      const sut = new LogRepository(db);
      const now = t0 + 10 * DAY;
      const at = (daysAgo: number, level: LogRecord['level']): LogRecord => ({ ...lines(1, now - daysAgo * DAY)[0]!, level, message: `${level} ${daysAgo}` });
      sut.insert([at(9, 'info'), at(9, 'debug'), at(3, 'error'), at(2, 'debug'), at(0.5, 'debug'), at(0.1, 'info')]);
      expect(sut.prune(1000, 5 * DAY, now, DAY)).toBe(3);
      expect(sut.query({ afterId: 0, limit: 10 }).entries.map((e) => e.message)).toEqual(['error 3', 'debug 0.5', 'info 0.1']);
    });

    it('keeps seven days of a busy router at the default retention (measured rates, scaled down)', { timeout: 60_000 }, () => {
      // `npm run bench -- scale` measures with the real llama-server: 8 lines per chat completion (one of them,
      // the router's "proxying request", at debug) and 1 debug line per second per loaded model from our own
      // polls. A busy router: a request every 4 s, all day, and two models loaded.
      const busy = { requestsPerDay: 86_400 / 4, linesPerRequest: 8, debugPerRequest: 1, pollLinesPerDay: 2 * 86_400 };
      const scale = 1 / 500;
      const perHour = {
        other: (busy.requestsPerDay * (busy.linesPerRequest - busy.debugPerRequest) * scale) / 24,
        debug: ((busy.requestsPerDay * busy.debugPerRequest + busy.pollLinesPerDay) * scale) / 24,
      };
      const { logsMaxRows, logsMaxAgeDays } = DEFAULT_DASHBOARD_SETTINGS.retention;
      const sut = new LogRepository(db);
      const start = t0;
      let oldestKept = 0;
      for (let hour = 0; hour < 10 * 24; hour++) {
        const batch: LogRecord[] = [];
        const hourStart = start + hour * 3_600_000;
        for (let i = 0; i < Math.round(perHour.other); i++) {
          batch.push({ ...lines(1, hourStart + i)[0]!, level: 'info' });
        }
        for (let i = 0; i < Math.round(perHour.debug); i++) {
          batch.push({ ...lines(1, hourStart + i)[0]!, level: 'debug' });
        }
        sut.insert(batch);
        sut.prune(Math.round(logsMaxRows * scale), logsMaxAgeDays * DAY, hourStart + 3_600_000);
      }
      const end = start + 10 * 24 * 3_600_000;
      oldestKept = (db.prepare("SELECT MIN(ts) FROM logs WHERE level <> 'debug'").pluck().get() as number) ?? end;
      expect((end - oldestKept) / DAY).toBeGreaterThanOrEqual(7);
    });
  });
});
