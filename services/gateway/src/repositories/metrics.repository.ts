import type { MetricsPoint } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/** Stored tiers and the width of their buckets. */
export const TIERS = { raw: 0, minute: 60_000, hour: 3_600_000 } as const;
export type Tier = keyof typeof TIERS;

interface PointRow {
  series: string;
  bucket: number;
  min: number;
  max: number;
  sum: number;
  count: number;
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

  history(tier: Tier, series: readonly string[], from: number, to: number): Record<string, MetricsPoint[]> {
    const out: Record<string, MetricsPoint[]> = {};
    const stmt = this.db.prepare(
      'SELECT series, bucket, min, max, sum, count FROM metrics_points WHERE tier = ? AND series = ? AND bucket BETWEEN ? AND ? ORDER BY bucket',
    );
    const start = tier === 'raw' ? from : from - (from % TIERS[tier]);
    for (const name of series) {
      out[name] = (stmt.all(tier, name, start, to) as PointRow[]).map((r) => ({ ts: r.bucket, min: r.min, max: r.max, avg: r.sum / r.count }));
    }
    return out;
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
