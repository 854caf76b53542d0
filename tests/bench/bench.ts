/**
 * One benchmark figure: a value measured in this run, and the baseline it is compared with,
 * measured side by side in the same run (never a number remembered from another machine).
 */
export interface BenchRow {
  /** What was measured, e.g. "load → loaded, via supervisor (p50)". */
  figure: string;
  value: number;
  unit: string;
  /** The same figure without the thing under test, measured in this run; null when there is none. */
  baseline: number | null;
  baselineLabel: string | null;
  /** The target, as text, e.g. "< 20 ms added". */
  target: string | null;
  /** Whether the target is met; null when there is no target or it is not a simple comparison. */
  met: boolean | null;
}

export interface Bench {
  name: string;
  run(): Promise<BenchRow[]>;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function row(partial: Partial<BenchRow> & Pick<BenchRow, 'figure' | 'value' | 'unit'>): BenchRow {
  return { baseline: null, baselineLabel: null, target: null, met: null, ...partial };
}
