/**
 * History series for the dashboard's small charts, and point-by-point combination of series.
 * Series names are those of `sampleSeries` in @llamaproxy/shared (the gateway stores exactly
 * those); metric-series.spec.ts checks that every name used here is one of them.
 */
import type { MetricsPoint } from '@llamaproxy/shared';

export const DashboardSeries = {
  cpu: 'cpu.usagePct',
  memory: 'memory.usedPct',
  gpuUtil: (index: number) => `gpu.${index}.utilizationPct`,
  modelGen: (modelId: string) => `model.${modelId}.genTokensPerSec`,
} as const;

export interface TimePoint {
  ts: number;
  value: number;
}

/**
 * Combines several series point by point (same timestamps), e.g. the mean of every GPU:
 * `combine` gets the values present at each timestamp, in the order of `series`.
 */
export function combineSeries(
  series: readonly (readonly MetricsPoint[] | undefined)[],
  combine: (values: (number | undefined)[]) => number | null,
): TimePoint[] {
  const byTs = new Map<number, (number | undefined)[]>();
  series.forEach((points, index) => {
    for (const p of points ?? []) {
      const row = byTs.get(p.ts) ?? new Array<number | undefined>(series.length).fill(undefined);
      row[index] = p.avg;
      byTs.set(p.ts, row);
    }
  });
  const out: TimePoint[] = [];
  for (const [ts, values] of [...byTs].sort((a, b) => a[0] - b[0])) {
    const value = combine(values);
    if (value !== null && Number.isFinite(value)) {
      out.push({ ts, value });
    }
  }
  return out;
}

export function mean(values: readonly (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === 'number');
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length;
}

export function sum(values: readonly (number | null | undefined)[]): number | null {
  const known = values.filter((v): v is number => typeof v === 'number');
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}
