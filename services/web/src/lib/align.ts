import type { MetricsPoint } from '@llamaproxy/shared';

/** uPlot's column layout: x values (seconds) then one column per series, null where missing. */
export type Columns = [number[], ...(number | null)[][]];

/** Aligns several series on the union of their timestamps (ms in, seconds out). */
export function alignSeries(series: readonly (readonly MetricsPoint[] | undefined)[]): Columns {
  const xs = [...new Set(series.flatMap((points) => (points ?? []).map((p) => p.ts)))].sort((a, b) => a - b);
  const index = new Map(xs.map((ts, i) => [ts, i]));
  const columns = series.map((points) => {
    const column = new Array<number | null>(xs.length).fill(null);
    for (const p of points ?? []) {
      column[index.get(p.ts) ?? 0] = p.avg;
    }
    return column;
  });
  return [xs.map((ts) => ts / 1000), ...columns];
}

/**
 * Appends one row of values at `tsMs` (one value per series) and drops rows older than `fromMs`.
 * Returns new columns; missing series columns are created.
 */
export function appendRow(columns: Columns, tsMs: number, values: readonly (number | null)[], fromMs: number): Columns {
  const [xs] = columns;
  const ys = values.map((_, i) => columns[i + 1] ?? new Array<number | null>(xs.length).fill(null));
  const t = tsMs / 1000;
  if (xs.length > 0 && t <= (xs.at(-1) ?? 0)) {
    return columns;
  }
  const start = xs.findIndex((x) => x >= fromMs / 1000);
  const keep = start < 0 ? xs.length : start;
  return [[...xs.slice(keep), t], ...ys.map((column, i) => [...column.slice(keep), values[i] ?? null])];
}
