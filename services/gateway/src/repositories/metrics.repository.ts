import { MAX_POINTS_PER_SERIES, type MetricsPoint } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/** Stored tiers and the width of their buckets. */
export const TIERS = { raw: 0, minute: 60_000, hour: 3_600_000 } as const;
export type Tier = keyof typeof TIERS;

/** One group of stored buckets: the first bucket's start, and the aggregates over the group. */
interface GroupRow {
  ts: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/** Tiers from the finest to the coarsest. */
export const TIER_ORDER: readonly Tier[] = ['raw', 'minute', 'hour'];

/** The start of the tier's bucket that holds `ts` (raw: `ts` itself). */
function bucketStart(tier: Tier, ts: number): number {
  const width = TIERS[tier];
  return width === 0 ? ts : ts - (ts % width);
}

/**
 * Metrics history as tiers: raw points and per-minute / per-hour roll-ups (min, max, sum, count)
 * maintained incrementally on every insert, so a 30-day chart reads ~720 rows per series.
 */
export class MetricsRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Adds one sample's values to every tier (call inside the ingest transaction). */
  insert(ts: number, values: Record<string, number>): void {
    const raw = this.db.prepare(
      'INSERT OR REPLACE INTO metrics_points (tier, series, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, 1)',
    );
    const rollup = this.db.prepare(`
      INSERT INTO metrics_points (tier, series, bucket, min, max, sum, count) VALUES (?, ?, ?, ?, ?, ?, 1)
      ON CONFLICT (tier, series, bucket) DO UPDATE SET
        min = MIN(min, excluded.min), max = MAX(max, excluded.max), sum = sum + excluded.sum, count = count + 1`);
    for (const [series, value] of Object.entries(values)) {
      if (!Number.isFinite(value)) {
        continue;
      }
      raw.run('raw', series, ts, value, value, value);
      rollup.run('minute', series, ts - (ts % TIERS.minute), value, value, value);
      rollup.run('hour', series, ts - (ts % TIERS.hour), value, value, value);
    }
  }

  /**
   * Points of each distinct name in `series` (repeats are answered once) from one tier over
   * [from, to] (ms since the epoch), at most `maxPoints` per series: the range is narrowed to the
   * stored extent and grouped by `downsampleStep`, in SQL. Synchronous; for one request per call.
   */
  history(tier: Tier, series: readonly string[], from: number, to: number, maxPoints = MAX_POINTS_PER_SERIES): Record<string, MetricsPoint[]> {
    const names = [...new Set(series)];
    const extent = this.extent(tier, names, from, to);
    const step = extent === null ? 0 : downsampleStep(tier, extent.first, extent.last, maxPoints);
    // fromEntries: a series named "__proto__" is a key like any other.
    return Object.fromEntries(names.map((name) => [name, extent === null ? [] : this.points(tier, name, extent.first, extent.last, step)]));
  }

  /**
   * The first and last stored bucket of any of `series` within [from, to] of a tier (for a roll-up
   * tier, `from` counts from the start of its bucket); null when there is none. Two index seeks per
   * series, whatever the range.
   */
  extent(tier: Tier, series: readonly string[], from: number, to: number): { first: number; last: number } | null {
    const stmt = this.db.prepare(`
      SELECT
        (SELECT MIN(bucket) FROM metrics_points WHERE tier = :tier AND series = :series AND bucket BETWEEN :from AND :to) AS first,
        (SELECT MAX(bucket) FROM metrics_points WHERE tier = :tier AND series = :series AND bucket BETWEEN :from AND :to) AS last`);
    const start = bucketStart(tier, from);
    let extent: { first: number; last: number } | null = null;
    for (const name of new Set(series)) {
      const row = stmt.get({ tier, series: name, from: start, to }) as { first: number | null; last: number | null };
      if (row.first !== null && row.last !== null) {
        extent = extent === null ? { first: row.first, last: row.last } : { first: Math.min(extent.first, row.first), last: Math.max(extent.last, row.last) };
      }
    }
    return extent;
  }

  /**
   * One series' stored buckets within [from, to] of a tier, in groups of `stepMs` (a whole number of
   * the tier's buckets; groups are aligned to the epoch): per group the first bucket's `ts`, the min
   * of the minimums, the max of the maximums and the average weighted by sample count. A step no
   * wider than the tier's bucket returns the stored points unchanged. Reads every stored bucket in
   * the range once, through the primary key.
   */
  points(tier: Tier, series: string, from: number, to: number, stepMs: number): MetricsPoint[] {
    const rows = this.db
      .prepare(
        `SELECT MIN(bucket) AS ts, MIN(min) AS min, MAX(max) AS max, SUM(sum) AS sum, SUM(count) AS count
         FROM metrics_points WHERE tier = ? AND series = ? AND bucket BETWEEN ? AND ?
         GROUP BY CAST(bucket AS INTEGER) / CAST(? AS INTEGER) ORDER BY ts`,
      )
      .all(tier, series, bucketStart(tier, from), to, Math.max(1, Math.trunc(stepMs))) as GroupRow[];
    return rows.map((r) => ({ ts: r.ts, min: r.min, max: r.max, avg: r.sum / r.count }));
  }

  /** Deletes points older than each tier's retention. */
  prune(retentionMs: Record<Tier, number>, now = Date.now()): number {
    const stmt = this.db.prepare('DELETE FROM metrics_points WHERE tier = ? AND bucket < ?');
    let removed = 0;
    for (const tier of Object.keys(TIERS) as Tier[]) {
      removed += stmt.run(tier, now - retentionMs[tier]).changes;
    }
    return removed;
  }
}

/** The tier that answers a range with a few hundred to a few thousand points. */
export function tierFor(from: number, to: number): Tier {
  const span = to - from;
  if (span <= 2 * 3_600_000) {
    return 'raw';
  }
  if (span <= 3 * 86_400_000) {
    return 'minute';
  }
  return 'hour';
}

/**
 * The width of a group, in ms, that keeps the buckets of [from, to] within `maxPoints` groups: a
 * whole number of the tier's buckets (1 ms for raw, so raw points pass through when they fit), at
 * least `(to - from) / (maxPoints - 1)`. Groups are `floor(bucket / step)`, so there are at most
 * `ceil((to - from) / step) + 1 <= maxPoints` of them.
 */
export function downsampleStep(tier: Tier, from: number, to: number, maxPoints: number): number {
  const width = Math.max(1, TIERS[tier]);
  const span = Math.max(0, to - from);
  const points = Math.max(1, Math.floor(maxPoints));
  const needed = points > 1 ? Math.ceil(span / (points - 1)) : Math.floor(span) + 1;
  return Math.max(width, Math.ceil(needed / width) * width);
}
