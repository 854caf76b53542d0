/**
 * Memory-aware model placement (issue #14): the contract between the supervisor (which decides
 * and acts), the gateway (which stores settings, feeds recency and keeps the report) and the web
 * (which shows it and previews a load).
 *
 * ## The flow
 * 1. **Budget.** Each supervisor knows its devices (`DeviceBudget`): every GPU from `nvidia-smi`
 *    (total minus `GPU_MEMORY_RESERVE`, default 512 MiB), else the host's RAM (`RAM_BUDGET`,
 *    default total minus `RAM_RESERVE`). All sizes are bytes.
 * 2. **Footprint.** Each model's footprint per device (`ModelFootprint`) is keyed by the settings
 *    that change it (`FootprintSettings`: context, slots, cache types, GPU layers). It is
 *    *estimated* from the GGUF header before the first load and *measured* after every successful
 *    load (RSS of the model instance's process on CPU, its `nvidia-smi --query-compute-apps`
 *    memory on a GPU); measurements are kept in the supervisor's data directory and win over
 *    estimates.
 * 3. **Settings.** The gateway stores the `PlacementSettings` document (global default TTL and,
 *    per model, pin / TTL / load on start-up) and writes it, as JSON, to
 *    `RedisKeys.placementSettingsKey`, then publishes the same JSON on
 *    `RedisKeys.placementSettingsChannel`. A supervisor reads the key at start and again on every
 *    notice (the payload is only a hint; the key is the truth).
 * 4. **Recency.** The gateway's `/v1` path records the last real request per model in the Redis
 *    hash `RedisKeys.placementLastUsed` (field = model id, value = epoch ms as a decimal string;
 *    throttled to one write per model per `LAST_USED_WRITE_INTERVAL_MS`; a write never lowers a
 *    value). Our own polls never touch it. The supervisor reads the hash when it plans.
 * 5. **Placement.** Before every load (a `model.load` job, so a click, a start-up load or the
 *    gateway's load-on-demand before it forwards a `/v1` request), the supervisor calls
 *    `planPlacement`: if the footprint does not fit the free budget it unloads the least recently
 *    used models until it does, never a pinned or loading one; a model with requests in flight
 *    (llama-server's own `/slots` `is_processing`) is evicted only after they finish, within a
 *    timeout. A load that can never fit fails with `INSUFFICIENT_MEMORY`
 *    (`insufficientMemoryMessage`). With `PLACEMENT=memory` (the default) llama-server runs with
 *    `--no-models-autoload` and a `--models-max` it never reaches, so only the supervisor loads models;
 *    `PLACEMENT=count` keeps llama.cpp's own count-based LRU (`--models-max`), and this module
 *    only reports. Direct calls to llama-server's opt-in port are outside the guarantee.
 * 6. **Idle unload.** A loaded model not used for its TTL (`ttlSeconds`, else the global
 *    `defaultTtlSeconds`; 0 = never) is unloaded, with the reason in the logs.
 * 7. **Report.** The supervisor publishes a `memory` StatusEvent (`MemoryReport`) on every change,
 *    coalesced to at most `MEMORY_REPORT_MIN_INTERVAL_MS`, and with its heartbeat. The gateway
 *    keeps the newest one per node in the snapshot (`Snapshot.memory`) and broadcasts it as
 *    `memory:update`. The web draws a bar per device from `devices` and `models`, and previews a
 *    load with the same `planPlacement` (footprint from `footprints`, see `footprintFor`).
 */
import { z } from 'zod';
import { ModelIdSchema } from './models.js';

/** `memory`: place by footprint and budget (default); `count`: llama.cpp's `--models-max` LRU. */
export const PlacementMode = {
  memory: 'memory',
  count: 'count',
} as const;
export type PlacementMode = (typeof PlacementMode)[keyof typeof PlacementMode];
export const PlacementModeSchema = z.enum(PlacementMode);

/** Longest TTL a setting may name (30 days), in seconds. */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

/** Idle time-to-live in seconds; 0 = never unload when idle. */
export const TtlSecondsSchema = z.number().int().min(0).max(MAX_TTL_SECONDS);

/** One model's placement settings. */
export const ModelPlacementSettingsSchema = z.object({
  /** Never evicted to make room, and never unloaded when idle. */
  pinned: z.boolean(),
  /** Idle time-to-live in seconds (0 = never); null = the global `defaultTtlSeconds`. */
  ttlSeconds: TtlSecondsSchema.nullable(),
  /** Loaded by the supervisor once llama-server has started (and after each restart). */
  loadOnStartup: z.boolean(),
});
export type ModelPlacementSettings = z.infer<typeof ModelPlacementSettingsSchema>;

/** What a model without settings gets. */
export const DEFAULT_MODEL_PLACEMENT_SETTINGS: ModelPlacementSettings = { pinned: false, ttlSeconds: null, loadOnStartup: false };

/**
 * The placement settings document the gateway stores and hands to every supervisor (as JSON in
 * `RedisKeys.placementSettingsKey`). Model ids are the router's; a model not listed has
 * `DEFAULT_MODEL_PLACEMENT_SETTINGS`.
 */
export const PlacementSettingsSchema = z.object({
  /** Idle time-to-live in seconds for models whose own `ttlSeconds` is null; 0 = never. */
  defaultTtlSeconds: TtlSecondsSchema,
  models: z.record(ModelIdSchema, ModelPlacementSettingsSchema),
});
export type PlacementSettings = z.infer<typeof PlacementSettingsSchema>;

export const DEFAULT_PLACEMENT_SETTINGS: PlacementSettings = { defaultTtlSeconds: 0, models: {} };

/** A model's settings in a document (the defaults when it has none). */
export function modelPlacementSettings(settings: PlacementSettings, modelId: string): ModelPlacementSettings {
  return settings.models[modelId] ?? DEFAULT_MODEL_PLACEMENT_SETTINGS;
}

/** A model's idle TTL in seconds (0 = never): its own, else the default; pinned models never idle out. */
export function effectiveTtlSeconds(settings: PlacementSettings, modelId: string): number {
  const own = modelPlacementSettings(settings, modelId);
  return own.pinned ? 0 : (own.ttlSeconds ?? settings.defaultTtlSeconds);
}

/** The gateway writes a model's last-used time to Redis at most this often (ms). */
export const LAST_USED_WRITE_INTERVAL_MS = 1000;

/** The supervisor publishes its memory report at most this often (ms); changes in between are coalesced. */
export const MEMORY_REPORT_MIN_INTERVAL_MS = 250;

/** `ram`: host memory (CPU-only inference); `gpu`: one GPU's memory. */
export const DeviceKindSchema = z.enum(['ram', 'gpu']);
export type DeviceKind = z.infer<typeof DeviceKindSchema>;

/** One device's memory and the share placement may use. Bytes throughout. */
export const DeviceBudgetSchema = z.object({
  /** `cpu` for host RAM, `cuda0`, `cuda1`, ... for GPUs (nvidia-smi's index), as llama.cpp names them. */
  id: z.string().min(1),
  kind: DeviceKindSchema,
  /** "NVIDIA GeForce RTX 4090", "RAM". */
  name: z.string(),
  /** Physical memory of the device. */
  totalBytes: z.number().nonnegative(),
  /** Kept out of the budget (`GPU_MEMORY_RESERVE`, or total − `RAM_BUDGET` for RAM). */
  reserveBytes: z.number().nonnegative(),
  /** What our models may use together: total − reserve (or `RAM_BUDGET`). */
  budgetBytes: z.number().nonnegative(),
  /** Held by our loaded and loading models (their footprints: measured, else estimated). */
  usedBytes: z.number().nonnegative(),
  /** budget − used; 0 when over budget. */
  freeBytes: z.number().nonnegative(),
});
export type DeviceBudget = z.infer<typeof DeviceBudgetSchema>;

/** Bytes per device id (`cpu`, `cuda0`, ...); a device a model does not use is absent. */
export const DeviceBytesSchema = z.record(z.string(), z.number().nonnegative());
export type DeviceBytes = z.infer<typeof DeviceBytesSchema>;

/** The instance settings a footprint depends on (what the router starts the model with). */
export const FootprintSettingsSchema = z.object({
  /** `--ctx-size` in tokens, for all slots together (llama-server splits it between them); 0 = the model's training context. */
  ctxSize: z.number().int().nonnegative(),
  /** `--parallel` slots. */
  parallel: z.number().int().positive(),
  /** `--cache-type-k` / `--cache-type-v` (`f16`, `q8_0`, ...). */
  cacheTypeK: z.string(),
  cacheTypeV: z.string(),
  /** `--n-gpu-layers`: a count, `auto` or `all`. */
  gpuLayers: z.union([z.number().int().nonnegative(), z.literal('auto'), z.literal('all')]),
});
export type FootprintSettings = z.infer<typeof FootprintSettingsSchema>;

/** The stable key of a settings combination: `ctx=4096;np=1;ctk=f16;ctv=f16;ngl=auto`. */
export function footprintSettingsKey(s: FootprintSettings): string {
  return `ctx=${s.ctxSize};np=${s.parallel};ctk=${s.cacheTypeK};ctv=${s.cacheTypeV};ngl=${s.gpuLayers}`;
}

/** A model's footprint under one settings combination. */
export const ModelFootprintSchema = z.object({
  modelId: ModelIdSchema,
  /** `footprintSettingsKey(settings)`. */
  settingsKey: z.string(),
  settings: FootprintSettingsSchema,
  /** From the GGUF header: weights on each device, KV cache and a compute-buffer allowance. */
  estimated: DeviceBytesSchema,
  /** Measured after the last successful load with these settings; null before the first. */
  measured: DeviceBytesSchema.nullable(),
  /** Epoch ms of the measurement; null before the first. */
  measuredAt: z.number().nullable(),
});
export type ModelFootprint = z.infer<typeof ModelFootprintSchema>;

/** What placement counts for a footprint: the measurement when there is one, else the estimate. */
export function footprintBytes(footprint: Pick<ModelFootprint, 'estimated' | 'measured'>): DeviceBytes {
  return footprint.measured ?? footprint.estimated;
}

/** A model that holds memory now (loading, loaded or sleeping). */
export const ResidentModelSchema = z.object({
  modelId: ModelIdSchema,
  status: z.enum(['loading', 'loaded', 'sleeping']),
  /** What it holds per device (the footprint's measurement, else its estimate). */
  bytes: DeviceBytesSchema,
  pinned: z.boolean(),
  /** Epoch ms of the last real request (the gateway's records), else of its load; null if unknown. */
  lastUsedAt: z.number().nullable(),
  /** Requests being processed now (llama-server's `/slots` `is_processing`), as last checked. */
  inFlight: z.number().int().nonnegative(),
  /** Effective idle TTL in seconds (0 = never). */
  ttlSeconds: z.number().int().nonnegative(),
  /** Epoch ms when it will be unloaded if still idle; null = never. */
  idleUnloadAt: z.number().nullable(),
});
export type ResidentModel = z.infer<typeof ResidentModelSchema>;

/** The node's memory report: the `memory` StatusEvent's payload. */
export const MemoryReportSchema = z.object({
  nodeId: z.string(),
  mode: PlacementModeSchema,
  /** Epoch ms when it was made. */
  sentAt: z.number(),
  devices: z.array(DeviceBudgetSchema),
  /** Models holding memory now, most recently used first. */
  models: z.array(ResidentModelSchema),
  /**
   * Known footprints (one per model: for its current settings), for every model that was
   * estimated or measured: what the web uses to preview a load.
   */
  footprints: z.array(ModelFootprintSchema),
});
export type MemoryReport = z.infer<typeof MemoryReportSchema>;

/** A model's footprint bytes from a report, or null when the supervisor has none yet. */
export function footprintFor(report: MemoryReport, modelId: string): DeviceBytes | null {
  const found = report.footprints.find((f) => f.modelId === modelId);
  return found === undefined ? null : footprintBytes(found);
}

/** Why a resident model holds memory that a plan cannot take. */
export const HoldReasonSchema = z.enum(['pinned', 'in-flight', 'loading', 'evictable']);
export type HoldReason = z.infer<typeof HoldReasonSchema>;

/** What a plan says about a load. Bytes refer to the tightest device (`deviceId`). */
export interface PlacementPlan {
  /** True when the model fits now or after `evict` are unloaded. */
  fits: boolean;
  /** Models to unload first, least recently used first (empty when it fits as is, or when it cannot fit). */
  evict: string[];
  /** The subset of `evict` serving requests now: their unload waits until those end. */
  waitFor: string[];
  /** The tightest device: the one that does not fit, else the one with the least room left; null with no device. */
  deviceId: string | null;
  /** The model's footprint on `deviceId`. */
  needBytes: number;
  /** Free on `deviceId` now, before any eviction. */
  freeBytes: number;
  /** What holds `deviceId`'s budget (every resident model with bytes there, and why it stays or may go). */
  heldBy: Array<{ modelId: string; bytes: number; reason: HoldReason }>;
  /** With `fits: false`: the INSUFFICIENT_MEMORY message (`insufficientMemoryMessage`). */
  message: string | null;
}

/** "1.5 GiB", "300 MiB", "512 KiB": binary units, one decimal below 10. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || Math.abs(value) >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/**
 * The INSUFFICIENT_MEMORY message: "tiny-b needs 1.2 GiB on cpu, 300 MiB free of a 2.0 GiB
 * budget; held by big-a (1.5 GiB, pinned), small-c (200 MiB, loading)".
 */
export function insufficientMemoryMessage(modelId: string, plan: Pick<PlacementPlan, 'deviceId' | 'needBytes' | 'freeBytes' | 'heldBy'>, budgetBytes: number): string {
  const held = plan.heldBy.filter((h) => h.reason !== 'evictable');
  const rest = held.length === 0 ? 'nothing else holds it' : `held by ${held.map((h) => `${h.modelId} (${formatBytes(h.bytes)}, ${h.reason})`).join(', ')}`;
  return `${modelId} needs ${formatBytes(plan.needBytes)} on ${plan.deviceId ?? 'no device'}, ${formatBytes(plan.freeBytes)} free of a ${formatBytes(budgetBytes)} budget; ${rest}`;
}

/**
 * Plans the load of `modelId` with `footprint` bytes per device against `report`: pure, used by
 * the supervisor for real and by the web for the "would evict" preview.
 *
 * A model already resident fits as is. Otherwise, for every device where the footprint exceeds the
 * free bytes, resident models are taken in least-recently-used order (null `lastUsedAt` first; idle
 * models before those with requests in flight) while they free bytes on a device still short;
 * pinned and loading models are never taken. When even all of them are not enough, `fits` is false
 * and `message` says why.
 */
export function planPlacement(report: Pick<MemoryReport, 'devices' | 'models'>, modelId: string, footprint: DeviceBytes): PlacementPlan {
  const resident = report.models.find((m) => m.modelId === modelId);
  const deviceIds = Object.keys(footprint).filter((id) => (footprint[id] ?? 0) > 0);
  const free = new Map(report.devices.map((d) => [d.id, d.freeBytes]));
  const reasonOf = (m: ResidentModel): HoldReason =>
    m.modelId === modelId ? 'evictable' : m.pinned ? 'pinned' : m.status === 'loading' ? 'loading' : m.inFlight > 0 ? 'in-flight' : 'evictable';
  const tightest = (remaining: Map<string, number>): string | null => {
    let best: string | null = null;
    let bestRoom = Number.POSITIVE_INFINITY;
    for (const id of deviceIds) {
      const room = (remaining.get(id) ?? 0) - (footprint[id] ?? 0);
      if (room < bestRoom) {
        bestRoom = room;
        best = id;
      }
    }
    return best ?? report.devices[0]?.id ?? null;
  };
  const describe = (deviceId: string | null, fits: boolean, evict: string[], waitFor: string[]): PlacementPlan => {
    const heldBy =
      deviceId === null
        ? []
        : report.models
            .filter((m) => m.modelId !== modelId && (m.bytes[deviceId] ?? 0) > 0)
            .map((m) => ({ modelId: m.modelId, bytes: m.bytes[deviceId] ?? 0, reason: reasonOf(m) }))
            .sort((a, b) => b.bytes - a.bytes);
    const plan: PlacementPlan = {
      fits,
      evict,
      waitFor,
      deviceId,
      needBytes: deviceId === null ? 0 : (footprint[deviceId] ?? 0),
      freeBytes: deviceId === null ? 0 : (free.get(deviceId) ?? 0),
      heldBy,
      message: null,
    };
    if (!fits) {
      const budget = report.devices.find((d) => d.id === deviceId)?.budgetBytes ?? 0;
      plan.message = insufficientMemoryMessage(modelId, plan, budget);
    }
    return plan;
  };
  if (resident !== undefined) {
    return describe(tightest(free), true, [], []);
  }
  const unknown = deviceIds.find((id) => !free.has(id));
  if (unknown !== undefined) {
    return describe(unknown, false, [], []);
  }
  const remaining = new Map(free);
  const short = (): string[] => deviceIds.filter((id) => (remaining.get(id) ?? 0) < (footprint[id] ?? 0));
  const candidates = report.models
    .filter((m) => m.modelId !== modelId && reasonOf(m) !== 'pinned' && reasonOf(m) !== 'loading')
    .sort((a, b) => Number(a.inFlight > 0) - Number(b.inFlight > 0) || (a.lastUsedAt ?? -1) - (b.lastUsedAt ?? -1) || a.modelId.localeCompare(b.modelId));
  const evict: string[] = [];
  const waitFor: string[] = [];
  for (const candidate of candidates) {
    const needed = short();
    if (needed.length === 0) {
      break;
    }
    if (!needed.some((id) => (candidate.bytes[id] ?? 0) > 0)) {
      continue;
    }
    evict.push(candidate.modelId);
    if (candidate.inFlight > 0) {
      waitFor.push(candidate.modelId);
    }
    for (const [id, bytes] of Object.entries(candidate.bytes)) {
      remaining.set(id, (remaining.get(id) ?? 0) + bytes);
    }
  }
  const stillShort = short();
  if (stillShort.length > 0) {
    // Report the device that fails, as it is now (before evictions that would not be enough).
    return describe(stillShort[0] ?? null, false, [], []);
  }
  return describe(tightest(free), true, evict, waitFor);
}
