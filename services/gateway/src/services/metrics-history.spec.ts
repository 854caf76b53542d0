import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, MAX_POINTS_PER_REQUEST, MAX_POINTS_PER_SERIES } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { HISTORY_FUTURE_SLACK_MS, historyRange, historyTier, readMetricsHistory } from './metrics-history.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2026, 5, 1);

describe(historyRange.name, () => {
  it.each([
    ['keeps a sane range', 1000.7, 5000.2, { from: 1000, to: 5000 }],
    ['starts at the epoch at the earliest', -1e300, 5000, { from: 0, to: 5000 }],
    ['ends a day past now at the latest', 0, 9e15, { from: 0, to: NOW + HISTORY_FUTURE_SLACK_MS }],
  ] as const)('%s', (_name, from, to, range) => {
    expect(historyRange(from, to, NOW)).toEqual(range);
  });
});

describe(historyTier.name, () => {
  it.each([
    ['auto', 30 * 60_000, 'raw'],
    ['auto', 2 * DAY, 'minute'],
    ['auto', 365 * DAY, 'hour'],
    ['raw', 10 * 60_000, 'raw'],
    // Finer than the span allows: coarsened to the span's tier.
    ['raw', DAY, 'minute'],
    ['raw', 365 * DAY, 'hour'],
    ['minute', 30 * DAY, 'hour'],
    // Coarser than needed: kept.
    ['hour', 10 * 60_000, 'hour'],
  ] as const)('answers %s over %d ms from the %s tier', (requested, span, tier) => {
    expect(historyTier(requested, NOW - span, NOW)).toBe(tier);
  });
});

describe(readMetricsHistory.name, () => {
  let db: Db;
  let metrics: MetricsRepository;

  beforeEach(() => {
    db = openDatabase(':memory:');
    metrics = new MetricsRepository(db);
  });
  afterEach(() => {
    db.close();
  });

  it('answers 64 copies of one series as one series', async () => {
    metrics.insert(NOW - 60_000, { 'cpu.usagePct': 12 });
    const sut = await readMetricsHistory(metrics, { from: 0, to: 9e15, resolution: 'raw', series: Array<string>(64).fill('cpu.usagePct') }, NOW);
    expect(sut).toEqual({ resolution: 'hour', series: { 'cpu.usagePct': [{ ts: NOW - HOUR, min: 12, max: 12, avg: 12 }] } });
  });

  it('answers a year asked for as raw with at most MAX_POINTS_PER_SERIES points per series', async () => {
    // Three samples an hour for a year: 8,760 hour buckets of 3 samples each.
    db.transaction(() => {
      for (let ts = NOW - 365 * DAY; ts < NOW; ts += HOUR / 3) {
        metrics.insert(ts, { cpu: (ts / (HOUR / 3)) % 3, mem: 50 });
      }
    })();
    const sut = await readMetricsHistory(metrics, { from: 0, to: 9e15, resolution: 'raw', series: ['cpu', 'mem', 'cpu'] }, NOW);
    expect(sut.resolution).toBe('hour');
    expect(Object.keys(sut.series)).toEqual(['cpu', 'mem']);
    for (const points of Object.values(sut.series)) {
      expect(points.length).toBeGreaterThan(MAX_POINTS_PER_SERIES / 2);
      expect(points.length).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
    }
    // Values 0, 1, 2 every hour: each group spans them all, and the same grid holds both series.
    expect(sut.series.cpu?.every((p) => p.min === 0 && p.max === 2 && p.avg === 1)).toBe(true);
    expect(sut.series.mem?.map((p) => p.ts)).toEqual(sut.series.cpu?.map((p) => p.ts));
  });

  it('shares the reply budget among many series: 64 series get 500 points each', async () => {
    const names = Array.from({ length: 64 }, (_, i) => `gpu.${i}.utilizationPct`);
    const put = db.prepare("INSERT INTO metrics_points (tier, series, bucket, min, max, sum, count) VALUES ('hour', ?, ?, 1, 3, 4, 2)");
    db.transaction(() => {
      for (const name of names) {
        for (let ts = NOW - 30 * DAY; ts < NOW; ts += HOUR) {
          put.run(name, ts);
        }
      }
    })();
    const sut = await readMetricsHistory(metrics, { from: NOW - 30 * DAY, to: NOW, resolution: 'auto', series: names }, NOW);
    expect(sut.resolution).toBe('hour');
    const counts = Object.values(sut.series).map((points) => points.length);
    expect(counts).toHaveLength(64);
    expect(Math.min(...counts)).toBeGreaterThan(MAX_POINTS_PER_REQUEST / 64 / 2);
    expect(Math.max(...counts)).toBeLessThanOrEqual(MAX_POINTS_PER_REQUEST / 64);
    expect(sut.series['gpu.0.utilizationPct']?.[0]).toEqual({ ts: NOW - 30 * DAY, min: 1, max: 3, avg: 2 });
  });

  it('keeps raw points unchanged for a short range', async () => {
    [5, 7, 9].forEach((v, i) => metrics.insert(NOW - 10_000 + i * 2000, { cpu: v }));
    const sut = await readMetricsHistory(metrics, { from: NOW - 60_000, to: NOW, resolution: 'auto', series: ['cpu'] }, NOW);
    expect(sut).toEqual({
      resolution: 'raw',
      series: { cpu: [5, 7, 9].map((v, i) => ({ ts: NOW - 10_000 + i * 2000, min: v, max: v, avg: v })) },
    });
  });

  it('answers empty series for a range with no points, or wholly in the future', async () => {
    metrics.insert(NOW - 60_000, { cpu: 1 });
    expect(await readMetricsHistory(metrics, { from: NOW - 30_000, to: NOW, resolution: 'auto', series: ['cpu', 'gpu'] }, NOW)).toEqual({
      resolution: 'raw',
      series: { cpu: [], gpu: [] },
    });
    const future = NOW + 2 * HISTORY_FUTURE_SLACK_MS;
    expect((await readMetricsHistory(metrics, { from: future, to: future + 1000, resolution: 'auto', series: ['cpu'] }, NOW)).series).toEqual({ cpu: [] });
  });

  it('keeps a series named __proto__ as a key like any other', async () => {
    metrics.insert(NOW - 1000, Object.fromEntries([['__proto__', 3]]));
    const sut = await readMetricsHistory(metrics, { from: NOW - 60_000, to: NOW, resolution: 'auto', series: ['__proto__'] }, NOW);
    expect(Object.keys(sut.series)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(sut.series, '__proto__')?.value).toEqual([{ ts: NOW - 1000, min: 3, max: 3, avg: 3 }]);
  });

  it('refuses a range that ends before it starts', async () => {
    await expect(readMetricsHistory(metrics, { from: 2, to: 1, resolution: 'auto', series: ['cpu'] }, NOW)).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
    });
  });
});
