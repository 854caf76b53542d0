/**
 * Which charts the Monitoring page shows, and which stored series each line reads: derived from
 * the newest sample (its disks, GPUs and models) and the models loaded now. Series names are
 * those of `sampleSeries` in @llamaproxy/shared.
 */
import type { MetricsSample } from '@llamaproxy/shared';
import type { ChartUnit } from '../components/time-chart.js';

export interface PlannedLine {
  label: string;
  unit: ChartUnit;
  series: string;
}

export interface PlannedChart {
  id: string;
  title: string;
  lines: PlannedLine[];
}

export const RANGES = [
  { id: '5m', label: '5 min', ms: 5 * 60_000 },
  { id: '1h', label: '1 hour', ms: 3_600_000 },
  { id: '6h', label: '6 hours', ms: 6 * 3_600_000 },
  { id: '24h', label: '24 hours', ms: 86_400_000 },
  { id: '7d', label: '7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: '30 days', ms: 30 * 86_400_000 },
] as const;
export type RangeId = (typeof RANGES)[number]['id'];

/** Ranges short enough to be served from raw points, which live samples can extend. */
export const LIVE_RANGE_MS = 3_600_000;

export function planCharts(sample: MetricsSample | null, loadedModels: readonly string[]): PlannedChart[] {
  const charts: PlannedChart[] = [
    {
      id: 'cpu',
      title: 'CPU',
      lines: [{ label: 'System', unit: 'pct', series: 'cpu.usagePct' }, ...(sample?.llamaProcess ? [{ label: 'llama-server', unit: 'pct' as const, series: 'llama.cpuPct' }] : [])],
    },
    {
      id: 'memory',
      title: 'Memory',
      lines: [
        { label: 'Used', unit: 'pct', series: 'memory.usedPct' },
        ...(sample?.llamaProcess ? [{ label: 'llama-server', unit: 'bytes' as const, series: 'llama.memoryBytes' }] : []),
      ],
    },
  ];
  if (sample && sample.disks.length > 0) {
    charts.push({ id: 'disk', title: 'Disk usage', lines: sample.disks.map((d) => ({ label: `${d.label} (${d.mount})`, unit: 'pct', series: `disk.${d.label}.usedPct` })) });
  }
  charts.push({
    id: 'network',
    title: 'Network',
    lines: [
      { label: 'Received', unit: 'bytesPerSec', series: 'network.rxBytesPerSec' },
      { label: 'Sent', unit: 'bytesPerSec', series: 'network.txBytesPerSec' },
    ],
  });
  for (const gpu of sample?.gpus ?? []) {
    charts.push({
      id: `gpu-${gpu.index}`,
      title: `GPU ${gpu.index} · ${gpu.name}`,
      lines: [
        { label: 'Utilisation', unit: 'pct', series: `gpu.${gpu.index}.utilizationPct` },
        { label: 'Memory used', unit: 'bytes', series: `gpu.${gpu.index}.memoryUsedBytes` },
      ],
    });
  }
  const temps = (sample?.gpus ?? []).filter((g) => g.temperatureC !== null);
  if (temps.length > 0) {
    charts.push({ id: 'gpu-temp', title: 'GPU temperature', lines: temps.map((g) => ({ label: `GPU ${g.index}`, unit: 'celsius', series: `gpu.${g.index}.temperatureC` })) });
  }
  const models = [...new Set([...(sample?.models.map((m) => m.modelId) ?? []), ...loadedModels])].sort().slice(0, 32);
  if (models.length > 0) {
    charts.push(
      { id: 'gen', title: 'Generation speed', lines: models.map((id) => ({ label: id, unit: 'tokensPerSec', series: `model.${id}.genTokensPerSec` })) },
      { id: 'prompt', title: 'Prompt processing speed', lines: models.map((id) => ({ label: id, unit: 'tokensPerSec', series: `model.${id}.promptTokensPerSec` })) },
    );
  }
  return charts;
}

/** A key that changes when the set of charts or their lines does (so they must be rebuilt). */
export function planKey(plan: readonly PlannedChart[]): string {
  return plan.map((c) => `${c.id}:${c.lines.map((l) => l.series).join(',')}`).join('|');
}
