import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { LOG_LEVEL_RANK, MAX_POINTS_PER_SERIES, type Catalogue, type LogEntry, type LogRecord } from '@llamaproxy/shared';
import { migrate, openDatabase, type Db } from '../db/database.js';
import { MIGRATIONS } from '../db/migrations.js';
import { LogRepository, trigramSearchable, type LogQuery } from './log.repository.js';
import { downsampleStep, MetricsRepository, TIERS, tierFor } from './metrics.repository.js';
import { ModelRepository } from './model.repository.js';
import { StateRepository } from './state.repository.js';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-repo-'));
  db = openDatabase(join(dir, 'test.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(migrate.name, () => {
  it('applies every migration once and is idempotent', () => {
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(migrate(db)).toBe(MIGRATIONS.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });
});

describe(MetricsRepository.name, () => {
  it('rolls raw points up into minute and hour buckets with min, max and average', () => {
    const sut = new MetricsRepository(db);
    const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    [1, 3, 5, 7].forEach((v, i) => sut.insert(t0 + i * 40_000, { cpu: v, skipped: Number.NaN }));
    expect(sut.history('raw', ['cpu'], t0, t0 + 200_000).cpu?.map((p) => p.avg)).toEqual([1, 3, 5, 7]);
    expect(sut.history('minute', ['cpu'], t0, t0 + 200_000).cpu).toEqual([
      { ts: t0, min: 1, max: 3, avg: 2 },
      { ts: t0 + 60_000, min: 5, max: 5, avg: 5 },
      { ts: t0 + 120_000, min: 7, max: 7, avg: 7 },
    ]);
    expect(sut.history('hour', ['cpu'], t0, t0).cpu).toEqual([{ ts: t0, min: 1, max: 7, avg: 4 }]);
    expect(sut.history('raw', ['skipped'], t0, t0 + 200_000).skipped).toEqual([]);
  });

  it('prunes each tier by its own retention', () => {
    const sut = new MetricsRepository(db);
    const now = Date.UTC(2026, 0, 10);
    sut.insert(now - 2 * 86_400_000, { cpu: 1 });
    sut.insert(now - 1000, { cpu: 2 });
    sut.prune({ raw: 86_400_000, minute: 3 * 86_400_000, hour: 30 * 86_400_000 }, now);
    expect(sut.history('raw', ['cpu'], 0, now).cpu?.map((p) => p.avg)).toEqual([2]);
    expect(sut.history('minute', ['cpu'], 0, now).cpu).toHaveLength(2);
  });

  it.each([
    [30 * 60_000, 'raw'],
    [24 * 3_600_000, 'minute'],
    [30 * 86_400_000, 'hour'],
  ] as const)('answers a %d ms range from the %s tier', (span, tier) => {
    expect(tierFor(0, span)).toBe(tier);
  });

  it('answers each distinct series once, however often it is asked for', () => {
    const sut = new MetricsRepository(db);
    const t0 = Date.UTC(2026, 0, 1, 12);
    sut.insert(t0, { cpu: 1, mem: 2 });
    const history = sut.history('raw', [...Array<string>(64).fill('cpu'), 'mem', 'cpu'], t0, t0 + 1000);
    expect(Object.keys(history)).toEqual(['cpu', 'mem']);
    expect(history.cpu).toEqual([{ ts: t0, min: 1, max: 1, avg: 1 }]);
  });

  it('groups a year of raw points in SQL into at most MAX_POINTS_PER_SERIES points', () => {
    const sut = new MetricsRepository(db);
    const t0 = Date.UTC(2025, 0, 1);
    const year = 365 * 86_400_000;
    const count = 20_000;
    // Straight into the raw tier (insert() would add the roll-ups too; not needed here).
    const put = db.prepare("INSERT INTO metrics_points (tier, series, bucket, min, max, sum, count) VALUES ('raw', 'cpu', ?, ?, ?, ?, 1)");
    db.transaction(() => {
      for (let i = 0; i < count; i++) {
        put.run(t0 + Math.floor((i * year) / count), i, i, i);
      }
    })();
    const points = sut.history('raw', ['cpu'], 0, 9e15).cpu ?? [];
    expect(points.length).toBeGreaterThan(MAX_POINTS_PER_SERIES / 2);
    expect(points.length).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
    expect(points[0]).toMatchObject({ ts: t0, min: 0 });
    expect(points.at(-1)?.max).toBe(count - 1);
    expect(points.every((p, i) => i === 0 || p.ts > (points[i - 1]?.ts ?? 0))).toBe(true);
    // Each group's average lies within its own min and max (values rise with time).
    expect(points.every((p) => p.min <= p.avg && p.avg <= p.max)).toBe(true);
  });

  it('aggregates a group as min of minimums, max of maximums, and the average weighted by sample count', () => {
    const sut = new MetricsRepository(db);
    const t0 = Date.UTC(2026, 0, 1, 12);
    // Minute t0: samples 1 and 3 (avg 2 over 2 samples); minute t0 + 1: sample 8 (1 sample).
    sut.insert(t0, { cpu: 1 });
    sut.insert(t0 + 30_000, { cpu: 3 });
    sut.insert(t0 + 60_000, { cpu: 8 });
    // One point for both minutes: (1 + 3 + 8) / 3 = 4, not the average of averages (2 + 8) / 2 = 5.
    expect(sut.history('minute', ['cpu'], t0, t0 + 60_000, 1).cpu).toEqual([{ ts: t0, min: 1, max: 8, avg: 4 }]);
    expect(sut.history('raw', ['cpu'], t0, t0 + 60_000, 2).cpu).toEqual([
      { ts: t0, min: 1, max: 3, avg: 2 },
      { ts: t0 + 60_000, min: 8, max: 8, avg: 8 },
    ]);
  });

  it.each([
    ['raw', 0, 0, 2000, 1],
    ['raw', 0, 1_999_000, 2000, 1000],
    ['minute', 0, 3 * 86_400_000, 2000, 180_000],
    ['hour', 0, 30 * 86_400_000, 2000, 3_600_000],
    ['hour', 0, 3650 * 86_400_000, 2000, 44 * 3_600_000],
  ] as const)('groups %s buckets over [%d, %d] for %d points by %d ms', (tier, from, to, points, step) => {
    expect(downsampleStep(tier, from, to, points)).toBe(step);
  });

  it('never makes more groups than points asked for, whatever the range', () => {
    for (const tier of ['raw', 'minute', 'hour'] as const) {
      for (const [from, to, points] of [
        [1, 1_000_001, 7],
        [59_999, 7_260_001, 100],
        [123_456_789, 9e15, 2000],
        [0, 86_399_999, 2],
      ] as const) {
        const step = downsampleStep(tier, from, to, points);
        expect(step % Math.max(1, TIERS[tier])).toBe(0);
        expect(Math.floor(to / step) - Math.floor(from / step) + 1).toBeLessThanOrEqual(points);
      }
    }
  });
});

describe(LogRepository.name, () => {
  const record = (message: string, level: LogRecord['level'] = 'info', source: LogRecord['source'] = 'llama-server'): LogRecord => ({
    ts: Date.now(),
    level,
    source,
    nodeId: 'n',
    modelId: null,
    message,
  });

  it('filters by level (and worse), source and text, and pages both ways by id', () => {
    const sut = new LogRepository(db);
    const [a, b, c] = sut.insert([record('alpha', 'error'), record('beta 100%', 'warn', 'gateway'), record('gamma', 'debug')]);
    expect(sut.query({ level: 'warn', limit: 10 }).entries.map((e) => e.message)).toEqual(['beta 100%', 'alpha']);
    expect(sut.query({ source: 'gateway', limit: 10 }).entries.map((e) => e.id)).toEqual([b?.id]);
    expect(sut.query({ text: '100%', limit: 10 }).entries.map((e) => e.message)).toEqual(['beta 100%']);
    expect(sut.query({ text: '%', limit: 10 }).entries).toHaveLength(1);
    expect(sut.query({ afterId: a?.id, limit: 10 }).entries.map((e) => e.id)).toEqual([b?.id, c?.id]);
    expect(sut.query({ beforeId: c?.id, limit: 1 })).toMatchObject({ entries: [{ id: b?.id }], hasMore: true });
  });

  it('keeps at most maxRows lines and none older than maxAge', () => {
    const sut = new LogRepository(db);
    const now = Date.now();
    sut.insert([{ ...record('old'), ts: now - 10_000 }, record('1'), record('2'), record('3')]);
    sut.prune(2, 5_000, now);
    expect(sut.query({ limit: 10 }).entries.map((e) => e.message)).toEqual(['3', '2']);
  });

  const messages = (page: { entries: LogEntry[] }): string[] => page.entries.map((e) => e.message);
  /** The full-text partitions listed in the catalogue (migration 11). */
  const partitions = (): string[] => db.prepare('SELECT name FROM logs_fts_partitions ORDER BY name').pluck().all() as string[];
  /** FTS5's own check of every full-text partition (each listed one exists); throws when one is corrupt. */
  const checkFullTextIndex = (): void => {
    for (const name of partitions()) {
      db.prepare(`INSERT INTO "${name}" ("${name}", rank) VALUES ('integrity-check', 1)`).run();
    }
  };

  it('keeps the full-text index in step through insert, prune and clear', () => {
    const sut = new LogRepository(db);
    // A new database: the index before migration 11 (empty) goes at the first prune.
    expect(partitions()).toEqual(['logs_fts']);
    const now = Date.now();
    sut.insert([{ ...record('old needle'), ts: now - 10_000 }, record('needle one'), record('needle two'), record('other')]);
    expect(messages(sut.query({ text: 'needle', limit: 10 }))).toEqual(['needle two', 'needle one', 'old needle']);
    sut.prune(2, 5_000, now);
    expect(messages(sut.query({ text: 'needle', limit: 10 }))).toEqual(['needle two']);
    expect(partitions()).toEqual(['logs_fts_0']);
    checkFullTextIndex();
    expect(sut.clear()).toBe(2);
    expect(sut.query({ text: 'needle', limit: 10 }).entries).toEqual([]);
    expect(partitions()).toEqual([]);
    // After clear() a partition is created again for new lines, and pruning them all drops it.
    sut.insert([record('needle again'), record('last')]);
    expect(messages(sut.query({ text: 'again', limit: 10 }))).toEqual(['needle again']);
    checkFullTextIndex();
    sut.prune(1, 60_000, now);
    expect(sut.query({ text: 'again', limit: 10 }).entries).toEqual([]);
    sut.prune(0, 60_000, now);
    expect(partitions()).toEqual([]);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger') AND name LIKE 'logs_fts%' ORDER BY name").pluck().all()).toEqual([
      'logs_fts_partitions',
    ]);
    // The stored line count (logs_stats) followed every insert, prune and clear.
    sut.insert([record('one'), record('two'), record('three')]);
    sut.prune(2, 60_000, now);
    expect(sut.lineCount()).toBe(2);
    expect(db.prepare('SELECT COUNT(*) FROM logs').pluck().get()).toBe(2);
  });

  it('clears while another connection (a second gateway replica) keeps writing and searching', () => {
    const other = openDatabase(join(dir, 'test.db'));
    try {
      const sut = new LogRepository(db);
      const replica = new LogRepository(other);
      replica.insert([record('from the replica')]);
      expect(replica.query({ text: 'replica', limit: 10 }).entries).toHaveLength(1);
      expect(sut.clear()).toBe(1);
      replica.insert([record('after the clear')]);
      expect(messages(sut.query({ text: 'after the', limit: 10 }))).toEqual(['after the clear']);
      replica.prune(0, 60_000);
      expect(sut.query({ text: 'after the', limit: 10 }).entries).toEqual([]);
      checkFullTextIndex();
    } finally {
      other.close();
    }
  });

  it('indexes lines from two replicas into shared partitions across partition boundaries, and either one prunes them', () => {
    const other = openDatabase(join(dir, 'test.db'));
    try {
      const sut = new LogRepository(db, { partitionLines: 4 });
      const replica = new LogRepository(other, { partitionLines: 4 });
      for (let round = 0; round < 6; round++) {
        (round % 2 === 0 ? sut : replica).insert([record(`needle ${round}a`), record(`needle ${round}b`, 'debug'), record(`needle ${round}c`)]);
      }
      // Ids 1-18, 4 per partition; each round's middle line (ids 2, 5, 8, ...) is a debug line.
      expect(partitions()).toEqual([
        'logs_fts',
        'logs_fts_0',
        'logs_fts_0_debug',
        'logs_fts_1',
        'logs_fts_1_debug',
        'logs_fts_2',
        'logs_fts_2_debug',
        'logs_fts_3',
        'logs_fts_3_debug',
        'logs_fts_4',
        'logs_fts_4_debug',
      ]);
      expect(sut.query({ text: 'needle', limit: 100 }).entries).toHaveLength(18);
      expect(replica.query({ text: 'needle', level: 'info', limit: 100 }).entries).toHaveLength(12);
      replica.prune(6, 30 * 86_400_000);
      // The 6 debug lines go first, then the 6 oldest others (ids 1-9): id 10 keeps partition 2.
      expect(messages(sut.query({ text: 'needle', afterId: 0, limit: 100 }))).toEqual(['needle 3a', 'needle 3c', 'needle 4a', 'needle 4c', 'needle 5a', 'needle 5c']);
      expect(sut.lineCount()).toBe(6);
      expect(partitions()).toEqual(['logs_fts_2', 'logs_fts_3', 'logs_fts_4']);
      sut.insert([record('needle after')]);
      expect(messages(replica.query({ text: 'needle', limit: 1 }))).toEqual(['needle after']);
      checkFullTextIndex();
    } finally {
      other.close();
    }
  });

  it('indexes the lines stored before the full-text migration', () => {
    db.close();
    db = new Database(join(dir, 'v2.db'));
    db.exec(MIGRATIONS[0] ?? '');
    db.exec(MIGRATIONS[1] ?? '');
    db.pragma('user_version = 2');
    db.prepare("INSERT INTO logs (ts, level, source, message) VALUES (1, 'error', 'gateway', 'stored before')").run();
    migrate(db);
    checkFullTextIndex();
    expect(messages(new LogRepository(db).query({ text: 'BEFORE', limit: 10 }))).toEqual(['stored before']);
  });

  it('keeps the index made before partitions (migration 11) as the oldest partition until its lines are pruned', () => {
    db.close();
    db = new Database(join(dir, 'v10.db'));
    for (const [i, sql] of MIGRATIONS.slice(0, 10).entries()) {
      db.exec(sql);
      db.pragma(`user_version = ${i + 1}`);
    }
    // Stored through migration 3's triggers, as a gateway before migration 11 did.
    const insert = db.prepare("INSERT INTO logs (ts, level, source, message) VALUES (?, 'info', 'gateway', ?)");
    insert.run(1, 'old needle 1');
    insert.run(2, 'old needle 2');
    migrate(db);
    expect(partitions()).toEqual(['logs_fts']);
    const sut = new LogRepository(db, { partitionLines: 4 });
    sut.insert([{ ...record('new needle 3'), ts: 3 }, { ...record('new needle 4'), ts: 4 }, { ...record('new needle 5'), ts: 5 }]);
    expect(partitions()).toEqual(['logs_fts', 'logs_fts_0', 'logs_fts_1']);
    expect(messages(sut.query({ text: 'needle', limit: 10 }))).toEqual(['new needle 5', 'new needle 4', 'new needle 3', 'old needle 2', 'old needle 1']);
    expect(messages(sut.query({ text: 'needle', afterId: 0, limit: 2 }))).toEqual(['old needle 1', 'old needle 2']);
    // One old line pruned: the old index stays (and its dead entry is not returned); both: it is dropped.
    sut.prune(4, 30 * 86_400_000, 10);
    expect(messages(sut.query({ text: 'needle', limit: 10 }))).toEqual(['new needle 5', 'new needle 4', 'new needle 3', 'old needle 2']);
    expect(partitions()).toEqual(['logs_fts', 'logs_fts_0', 'logs_fts_1']);
    sut.prune(3, 30 * 86_400_000, 10);
    expect(partitions()).toEqual(['logs_fts_0', 'logs_fts_1']);
    expect(messages(sut.query({ text: 'needle', limit: 10 }))).toEqual(['new needle 5', 'new needle 4', 'new needle 3']);
    checkFullTextIndex();
  });

  it('takes % and _ literally and ignores ASCII case, with or without the index', () => {
    const sut = new LogRepository(db);
    sut.insert([record('disk_a 50%'), record('diskXa 50x'), record('DISK_B')]);
    expect(messages(sut.query({ text: 'disk_', limit: 10 }))).toEqual(['DISK_B', 'disk_a 50%']);
    expect(messages(sut.query({ text: '0%', limit: 10 }))).toEqual(['disk_a 50%']);
    expect(messages(sut.query({ text: 'k_a 5', limit: 10 }))).toEqual(['disk_a 50%']);
  });

  it('scans only the newest lines for a text too short for the index', () => {
    const sut = new LogRepository(db, { scanWindowRows: 3 });
    sut.insert([record('ab first'), record('x'), record('y'), record('ab last')]);
    expect(trigramSearchable('ab')).toBe(false);
    expect(messages(sut.query({ text: 'ab', limit: 10 }))).toEqual(['ab last']);
    expect(messages(sut.query({ text: 'ab ', limit: 10 }))).toEqual(['ab last', 'ab first']);
  });

  it('answers a common text with a rare filter from the filter index when the newest matches fall short', () => {
    const sut = new LogRepository(db, { textCandidates: 4 });
    const [full] = sut.insert([record('disk full', 'error'), ...Array.from({ length: 10 }, (_, i) => record(`disk ok ${i}`))]);
    expect(sut.query({ text: 'disk', level: 'error', limit: 5 })).toEqual({ entries: [full], hasMore: false });
    expect(sut.query({ text: 'disk', level: 'warn', afterId: 0, limit: 5 })).toEqual({ entries: [full], hasMore: false });
    expect(sut.query({ text: 'disk', limit: 2 })).toMatchObject({ entries: [{ message: 'disk ok 9' }, { message: 'disk ok 8' }], hasMore: true });
  });

  it('returns what a filter over every line returns, for every plan', () => {
    const windowRows = 60;
    const sut = new LogRepository(db, { scanWindowRows: windowRows, textCandidates: 7 });
    const levels = ['error', 'warn', 'info', 'debug'] as const;
    const sources = ['gateway', 'llama-server', 'supervisor'] as const;
    const all = sut.insert(
      Array.from({ length: 240 }, (_, i) => ({
        ts: i,
        level: levels[(i * 7) % 11 === 0 ? 0 : (i * 5) % 4] ?? 'info',
        source: sources[i % 3] ?? 'gateway',
        nodeId: 'n',
        modelId: i % 4 === 0 ? 'm1' : i % 4 === 1 ? 'm2' : null,
        message: `${i % 9 === 0 ? 'Disk FULL' : 'disk ok'} k_${i % 13} t${i}`,
      })),
    );
    const latest = all.at(-1)?.id ?? 0;
    const expected = (q: LogQuery): { entries: LogEntry[]; hasMore: boolean } => {
      const text = q.text?.toLowerCase();
      const rows = all.filter(
        (e) =>
          (q.level === undefined || LOG_LEVEL_RANK[e.level] <= LOG_LEVEL_RANK[q.level]) &&
          (q.source === undefined || e.source === q.source) &&
          (q.modelId === undefined || e.modelId === q.modelId) &&
          (q.afterId === undefined || e.id > q.afterId) &&
          (q.beforeId === undefined || e.id < q.beforeId) &&
          (text === undefined || text === '' || (e.message.toLowerCase().includes(text) && (trigramSearchable(text) || e.id > latest - windowRows))),
      );
      if (q.afterId === undefined) {
        rows.reverse();
      }
      return { entries: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
    };
    let checked = 0;
    for (const level of [undefined, ...levels]) {
      for (const source of [undefined, 'gateway', 'supervisor'] as const) {
        for (const modelId of [undefined, 'm1']) {
          for (const text of [undefined, 'disk full', 'k_1', 'k_12 t', '_1', 'zzz']) {
            for (const cursor of [{}, { afterId: 100 }, { beforeId: 150 }]) {
              const q: LogQuery = { level, source, modelId, text, ...cursor, limit: 5 };
              expect(sut.query(q), JSON.stringify(q)).toEqual(expected(q));
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBe(5 * 3 * 2 * 6 * 3);
  });
});

describe(ModelRepository.name, () => {
  const catalogue = (ids: string[]): Catalogue => ({
    nodeId: 'n',
    modelsDir: '/m',
    scannedAt: 0,
    entries: ids.map((id) => ({
      id,
      path: `${id}.gguf`,
      layout: 'single',
      files: [`${id}.gguf`],
      mmproj: null,
      sizeBytes: 1,
      modifiedAt: 1,
      valid: true,
      invalidReason: null,
      architecture: 'llama',
      name: id,
      quantization: 'Q4_K_M',
      parameterCount: 7,
      contextLength: 8,
    })),
  });

  it('follows the catalogue: keeps live state on update, removes models whose files are gone', () => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(catalogue(['a', 'b']));
    sut.setState('n', { id: 'a', status: 'loaded', progress: null, stage: null, args: [], error: null, updatedAt: 1 });
    sut.syncCatalogue(catalogue(['a']));
    expect(sut.list().map((m) => [m.id, m.state.status])).toEqual([['a', 'loaded']]);
  });

  it('keeps the row of a model the router reports when it leaves the catalogue, until the router stops reporting it', () => {
    const sut = new ModelRepository(db);
    sut.syncCatalogue(catalogue(['a', 'linked']));
    sut.setState('n', { id: 'custom', status: 'loaded', progress: null, stage: null, args: [], error: null, updatedAt: 1 });
    sut.setState('n', { id: 'linked', status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: 1 });
    sut.syncCatalogue(catalogue(['a']));
    expect(sut.list().map((m) => [m.id, m.state.status, m.path])).toEqual([
      ['a', 'unloaded', 'a.gguf'],
      ['custom', 'loaded', ''],
      ['linked', 'unloaded', ''],
    ]);
    sut.retainReported('n', ['a', 'custom']);
    expect(sut.list().map((m) => m.id)).toEqual(['a', 'custom']);
  });

  it('records a model only the router knows (a custom preset entry)', () => {
    const sut = new ModelRepository(db);
    sut.setState('n', { id: 'custom', status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: 1 });
    expect(sut.get('n', 'custom')?.state.status).toBe('unloaded');
  });
});

describe(StateRepository.name, () => {
  it('claims a stream entry once, so a redelivered entry is skipped', () => {
    const sut = new StateRepository(db);
    expect(sut.claimStreamEntry('logs:1-0')).toBe(true);
    expect(sut.claimStreamEntry('logs:1-0')).toBe(false);
    expect(sut.claimStreamEntry('status:1-0')).toBe(true);
  });
});
