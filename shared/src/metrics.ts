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

/** One point of a history series: a raw value, or a roll-up's min/avg/max. */
export const MetricsPointSchema = z.object({ ts: num, min: num, avg: num, max: num });
export type MetricsPoint = z.infer<typeof MetricsPointSchema>;
