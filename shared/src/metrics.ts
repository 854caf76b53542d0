import { z } from 'zod';

const num = z.number();
const nullableNum = z.number().nullable();

export const GpuSampleSchema = z.object({
  index: z.number().int(),
  uuid: z.string().nullable(),
  name: z.string(),
  utilizationPct: nullableNum,
  memoryUsedBytes: nullableNum,
  memoryTotalBytes: nullableNum,
  temperatureC: nullableNum,
  powerDrawW: nullableNum,
  powerLimitW: nullableNum,
  fanPct: nullableNum,
  clockSmMhz: nullableNum,
  clockMemMhz: nullableNum,
  processes: z.array(z.object({ pid: z.number().int(), name: z.string(), memoryUsedBytes: nullableNum })),
});
export type GpuSample = z.infer<typeof GpuSampleSchema>;

/** Inference figures for one loaded model, rates derived from counter deltas over the interval. */
export const ModelInferenceSampleSchema = z.object({
  modelId: z.string(),
  promptTokensPerSec: num,
  genTokensPerSec: num,
  promptTokensTotal: num,
  genTokensTotal: num,
  requestsProcessing: num,
  requestsDeferred: num,
  busySlots: num,
  totalSlots: num,
  kvCacheUsage: nullableNum,
});
export type ModelInferenceSample = z.infer<typeof ModelInferenceSampleSchema>;

export const MetricsSampleSchema = z.object({
  ts: num,
  nodeId: z.string(),
  cpu: z.object({ usagePct: num, perCorePct: z.array(num), load: z.array(num) }),
  memory: z.object({ totalBytes: num, usedBytes: num, swapTotalBytes: num, swapUsedBytes: num }),
  disks: z.array(z.object({ label: z.string(), mount: z.string(), totalBytes: num, usedBytes: num })),
  network: z.object({ rxBytesPerSec: num, txBytesPerSec: num }),
  uptimeSec: num,
  llamaProcess: z.object({ cpuPct: num, memoryBytes: num, processCount: num }).nullable(),
  gpus: z.array(GpuSampleSchema),
  models: z.array(ModelInferenceSampleSchema),
});
export type MetricsSample = z.infer<typeof MetricsSampleSchema>;

/** Stored tiers of the metrics history. */
export const MetricsResolution = { raw: 'raw', minute: 'minute', hour: 'hour', auto: 'auto' } as const;
export type MetricsResolution = (typeof MetricsResolution)[keyof typeof MetricsResolution];

/**
 * The most points `metrics:history` returns for one series. Longer ranges are downsampled by the
 * gateway into groups of whole buckets (min of mins, max of maxes, average weighted by sample count),
 * so a chart never needs to thin a reply itself.
 */
export const MAX_POINTS_PER_SERIES = 2000;

/**
 * The most points one `metrics:history` reply holds over all its series (about 3 MB of JSON):
 * up to 16 series get MAX_POINTS_PER_SERIES each, more share this budget (64 series: 500 each).
 */
export const MAX_POINTS_PER_REQUEST = 32_000;

/** Points per series in a `metrics:history` reply for `seriesCount` distinct series (at least 1). */
export function historyPointsPerSeries(seriesCount: number): number {
  return Math.max(1, Math.min(MAX_POINTS_PER_SERIES, Math.floor(MAX_POINTS_PER_REQUEST / Math.max(1, seriesCount))));
}

/** One point of a history series: a raw value, or a roll-up's min/avg/max. */
export const MetricsPointSchema = z.object({ ts: num, min: num, avg: num, max: num });
export type MetricsPoint = z.infer<typeof MetricsPointSchema>;

/**
 * The named series a sample contributes to the stored history, e.g. `cpu.usagePct`,
 * `gpu.0.utilizationPct`, `model.<id>.genTokensPerSec`. The gateway stores these; charts ask for them.
 */
export function sampleSeries(sample: MetricsSample): Record<string, number> {
  const out: Record<string, number> = {
    'cpu.usagePct': sample.cpu.usagePct,
    'memory.usedBytes': sample.memory.usedBytes,
    'memory.usedPct': sample.memory.totalBytes > 0 ? (100 * sample.memory.usedBytes) / sample.memory.totalBytes : 0,
    'swap.usedBytes': sample.memory.swapUsedBytes,
    'network.rxBytesPerSec': sample.network.rxBytesPerSec,
    'network.txBytesPerSec': sample.network.txBytesPerSec,
  };
  const load1 = sample.cpu.load[0];
  if (load1 !== undefined) {
    out['cpu.load1'] = load1;
  }
  for (const disk of sample.disks) {
    out[`disk.${disk.label}.usedPct`] = disk.totalBytes > 0 ? (100 * disk.usedBytes) / disk.totalBytes : 0;
  }
  if (sample.llamaProcess) {
    out['llama.cpuPct'] = sample.llamaProcess.cpuPct;
    out['llama.memoryBytes'] = sample.llamaProcess.memoryBytes;
  }
  for (const gpu of sample.gpus) {
    const put = (name: string, value: number | null): void => {
      if (value !== null) {
        out[`gpu.${gpu.index}.${name}`] = value;
      }
    };
    put('utilizationPct', gpu.utilizationPct);
    put('memoryUsedBytes', gpu.memoryUsedBytes);
    put('temperatureC', gpu.temperatureC);
    put('powerDrawW', gpu.powerDrawW);
  }
  for (const model of sample.models) {
    out[`model.${model.modelId}.promptTokensPerSec`] = model.promptTokensPerSec;
    out[`model.${model.modelId}.genTokensPerSec`] = model.genTokensPerSec;
    out[`model.${model.modelId}.requestsProcessing`] = model.requestsProcessing;
    if (model.kvCacheUsage !== null) {
      out[`model.${model.modelId}.kvCacheUsage`] = model.kvCacheUsage;
    }
  }
  return out;
}
