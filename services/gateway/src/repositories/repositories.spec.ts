import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Catalogue, LogRecord } from '@llamaproxy/shared';
import { migrate, openDatabase, type Db } from '../db/database.js';
import { MIGRATIONS } from '../db/migrations.js';
import { LogRepository } from './log.repository.js';
import { MetricsRepository, tierFor } from './metrics.repository.js';
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
