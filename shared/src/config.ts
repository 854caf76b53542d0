import { z } from 'zod';

/** GPU layers: a count, or llama-server's "auto" / "all". */
export const GpuLayersSchema = z.union([z.literal('auto'), z.literal('all'), z.number().int().min(0).max(1000)]);
export type GpuLayers = z.infer<typeof GpuLayersSchema>;

/**
 * llama-server router settings. The supervisor turns these into command-line flags;
 * `--metrics` is always on and is not a setting.
 */
export const ServerConfigSchema = z.object({
  /** Models directory as the supervisor sees it. From the environment only (`MODELS_DIR`). */
  modelsDir: z.string().min(1),
  /** Most models loaded at once (LRU eviction beyond); 0 = unlimited. */
  modelsMax: z.number().int().min(0).max(256),
  /** Parallel slots per model instance (`--parallel`). */
  parallel: z.number().int().min(1).max(256),
  /** HTTP threads (`--threads-http`); -1 = llama-server's default. */
  threadsHttp: z.number().int().min(-1).max(1024),
  /** Context size (`-c`); 0 = the model's training context. */
  ctxSize: z.number().int().min(0).max(16_777_216),
  gpuLayers: GpuLayersSchema,
  /** Where llama-server listens. From the environment only (`LLAMA_HOST`, `LLAMA_PORT`). */
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535),
  /** `--models-autoload`: load a model on the first request that names it. */
  autoload: z.boolean(),
  /** Further llama-server arguments, one token per element (e.g. ["--flash-attn", "on"]). */
  extraArgs: z.array(z.string().max(4096)).max(256),
});
export type ServerConfig = z.infer<typeof ServerConfigSchema>;

export const DEFAULT_SERVER_CONFIG: ServerConfig = {
  modelsDir: '/models',
  modelsMax: 4,
  parallel: 1,
  threadsHttp: -1,
  ctxSize: 4096,
  gpuLayers: 'auto',
  host: '127.0.0.1',
  port: 8080,
  autoload: true,
  extraArgs: [],
};

/**
 * A partial update of the server configuration. `modelsDir`, `host` and `port` come from the
 * supervisor's environment only (they decide what llama-server reads and where it listens), so
 * an update cannot carry them: unknown keys are dropped by the schema.
 */
export const ServerConfigPatchSchema = ServerConfigSchema.omit({ modelsDir: true, host: true, port: true }).partial();
export type ServerConfigPatch = z.infer<typeof ServerConfigPatchSchema>;

/** Dashboard preferences, persisted by the gateway and shared by every user. */
export const DashboardSettingsSchema = z.object({
  theme: z.enum(['system', 'light', 'dark']),
  metricsIntervalMs: z.number().int().min(1000).max(60_000),
  retention: z.object({
    rawHours: z.number().int().min(1).max(24 * 7),
    minuteDays: z.number().int().min(1).max(90),
    hourDays: z.number().int().min(1).max(3650),
    logsMaxRows: z.number().int().min(1000).max(10_000_000),
    logsMaxAgeDays: z.number().int().min(1).max(3650),
  }),
  units: z.object({
    memory: z.enum(['binary', 'decimal']),
    temperature: z.enum(['c', 'f']),
  }),
});
export type DashboardSettings = z.infer<typeof DashboardSettingsSchema>;

export const DEFAULT_DASHBOARD_SETTINGS: DashboardSettings = {
  theme: 'system',
  metricsIntervalMs: 2000,
  retention: { rawHours: 24, minuteDays: 14, hourDays: 365, logsMaxRows: 1_500_000, logsMaxAgeDays: 30 },
  units: { memory: 'binary', temperature: 'c' },
};

/**
 * Optimistic concurrency for every editable document (server configuration, preset, each
 * model's settings, dashboard settings): a counter that grows by one with each accepted change,
 * 0 before the first. An update names the revision it edited; a stale one is refused with
 * CONFLICT and the current document, so two quick edits never silently overwrite each other.
 */
export const RevisionSchema = z.number().int().nonnegative();
export type Revision = z.infer<typeof RevisionSchema>;

/** A document and its revision. */
export interface Revisioned<T> {
  value: T;
  revision: Revision;
}
