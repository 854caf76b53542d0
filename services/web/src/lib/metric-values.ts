/** The headline figures of one metrics sample, as the dashboard shows them. */
import type { MetricsSample } from '@llamaproxy/shared';
import { pct } from './format.js';
import { mean, sum } from './metric-series.js';

export function memoryPct(s: MetricsSample): number | null {
  return pct(s.memory.usedBytes, s.memory.totalBytes);
}

/** Mean utilisation of the GPUs that report one; null without GPUs. */
export function gpuPct(s: MetricsSample): number | null {
  return mean(s.gpus.map((g) => g.utilizationPct));
}

/** Generated tokens per second over every loaded model. */
export function genTokensPerSec(s: MetricsSample): number {
  return sum(s.models.map((m) => m.genTokensPerSec)) ?? 0;
}

export function promptTokensPerSec(s: MetricsSample): number {
  return sum(s.models.map((m) => m.promptTokensPerSec)) ?? 0;
}
