import type { UsageRow } from '@llamaproxy/shared';

/** What the usage chart stacks its bars by. */
export type UsageDimension = 'key' | 'user' | 'model';

/** One stacked series: a key, user or model, and its tokens (prompt + generated) per period. */
export interface UsageSeries {
  label: string;
  values: number[];
}

/** The chart's data: periods oldest first, and the series stacked on each (largest total first). */
export interface UsageChartData {
  periods: string[];
  series: UsageSeries[];
  /** The tallest stack, for the scale (0 when nothing was used). */
  max: number;
}

/** The label of a row in one dimension (what the usage table shows too). */
export function usageLabel(row: UsageRow, by: UsageDimension): string {
  switch (by) {
    case 'key':
      return row.keyName ?? (row.keyId === null ? 'session' : row.keyId);
    case 'user':
      return row.username ?? '—';
    case 'model':
      return row.model ?? '—';
  }
}

const OTHERS = 'others';

/**
 * Sums usage rows into a stacked chart by `by`: the `maxSeries - 1` largest groups keep their
 * name, the rest are summed as "others" (so a stack stays readable with hundreds of keys).
 */
export function usageChart(rows: readonly UsageRow[], by: UsageDimension, maxSeries = 6): UsageChartData {
  const periods = [...new Set(rows.map((r) => r.day))].sort();
  const index = new Map(periods.map((p, i) => [p, i]));
  const byLabel = new Map<string, number[]>();
  for (const row of rows) {
    const label = usageLabel(row, by);
    const values = byLabel.get(label) ?? periods.map(() => 0);
    values[index.get(row.day)!]! += row.promptTokens + row.completionTokens;
    byLabel.set(label, values);
  }
  const sum = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0);
  let series = [...byLabel].map(([label, values]) => ({ label, values })).sort((a, b) => sum(b.values) - sum(a.values) || a.label.localeCompare(b.label));
  if (series.length > maxSeries) {
    const rest = series.slice(maxSeries - 1);
    series = [...series.slice(0, maxSeries - 1), { label: OTHERS, values: periods.map((_, i) => sum(rest.map((s) => s.values[i]!))) }];
  }
  const max = Math.max(0, ...periods.map((_, i) => sum(series.map((s) => s.values[i]!))));
  return { periods, series, max };
}
