import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DOWNLOAD_CONCURRENCY_DEFAULT, extraArgsPolicyProblems, formatArgPolicyProblem, GpuLayersSchema, parseAllowArgs, PlacementModeSchema, type PlacementMode, type ServerConfig } from '@llamaproxy/shared';
import { parseByteSize } from './services/placement/device-budget.js';
import { ConfigError, envBool, envInt, envList, envLlamaExtraArgs, envLogLevel, HF_ENDPOINT_DEFAULT, HfTokenSchema, LlamaApiKeySchema, parseEnv, readSecretEnv, redisUrlFromEnv } from '@llamaproxy/shared/node';

/** Environment of the supervisor. The compose file and `npm run dev` set the same keys. */
const EnvSchema = z.object({
  REDIS_URL: z.string().url(),
  SUPERVISOR_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-" only')
    .default(hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64)),
  LLAMA_SERVER_BIN: z.string().default('llama-server'),
  MODELS_DIR: z.string().default('/models'),
  /** Where the supervisor keeps its own files: the preset INI and the applied configuration. */
  SUPERVISOR_DATA_DIR: z.string().default('/var/lib/llamaproxy'),
  LLAMA_HOST: z.string().default('127.0.0.1'),
  LLAMA_PORT: envInt(8080, 1, 65_535),
  LLAMA_MODELS_MAX: envInt(4, 0, 256),
  LLAMA_PARALLEL: envInt(1, 1, 256),
  LLAMA_THREADS_HTTP: envInt(-1, -1, 1024),
  LLAMA_CTX_SIZE: envInt(4096, 0),
  LLAMA_GPU_LAYERS: z
    .string()
    .default('auto')
    .transform((v, ctx) => {
      const parsed = GpuLayersSchema.safeParse(/^\d+$/.test(v) ? Number(v) : v);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', message: 'expected a number, "auto" or "all"' });
        return z.NEVER;
      }
      return parsed.data;
    }),
  LLAMA_MODELS_AUTOLOAD: envBool(true),
  /** No secret flags here (`--api-key`, `--hf-token`): they have their own variables. */
  LLAMA_EXTRA_ARGS: envLlamaExtraArgs(),
  /**
   * llama-server arguments (keys such as `log-file`, or any of their names) that the flag policy
   * (shared/src/arg-policy.ts) refuses but this operator allows: in LLAMA_EXTRA_ARGS, presets and
   * the dashboard's extra arguments alike. Only the environment can widen the policy.
   */
  LLAMA_ALLOW_ARGS: envList(),
  /** Start llama-server when the supervisor starts. */
  LLAMA_AUTOSTART: envBool(true),
  LLAMA_START_TIMEOUT_MS: envInt(60_000, 1000),
  LLAMA_STOP_GRACE_MS: envInt(10_000, 100),
  RESTART_BACKOFF_MIN_MS: envInt(1000, 10),
  RESTART_BACKOFF_MAX_MS: envInt(30_000, 100),
  /** How often the models directory is checked for changes. */
  MODELS_SCAN_INTERVAL_MS: envInt(5000, 200),
  /** How often /models is reconciled with the SSE-derived state. */
  RECONCILE_INTERVAL_MS: envInt(5000, 200),
  LOG_BATCH_MS: envInt(250, 10),
  WORKER_CONCURRENCY: envInt(4, 1, 64),
  LOG_LEVEL: envLogLevel,
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** `memory` (default): place models by footprint and budget; `count`: llama.cpp's `--models-max` LRU. */
  PLACEMENT: PlacementModeSchema.default('memory'),
  /** Kept free on every GPU (bytes, or with a unit: `512MiB`, `1G`). */
  GPU_MEMORY_RESERVE: envByteSize('512MiB'),
  /** What models may use of the host's RAM; empty = total − RAM_RESERVE. */
  RAM_BUDGET: envByteSize(''),
  RAM_RESERVE: envByteSize('1GiB'),
  /** How long a load waits for a model it must evict to finish its requests. */
  PLACEMENT_INFLIGHT_WAIT_MS: envInt(120_000, 0),
  /** How often idle models are looked for (their TTL is checked). */
  PLACEMENT_CHECK_INTERVAL_MS: envInt(1000, 50),
  /** Model downloads from the Hugging Face Hub into MODELS_DIR (needs it writable). */
  MODEL_DOWNLOADS: envBool(true),
  /** Downloads running at once. */
  DOWNLOAD_CONCURRENCY: envInt(DOWNLOAD_CONCURRENCY_DEFAULT, 1, 16),
  /** How long a download job's lock lasts without renewal: a killed supervisor's download resumes this long after. */
  DOWNLOAD_LOCK_MS: envInt(30_000, 1000),
  /** The Hub's address (a mirror; the tests' stand-in). */
  HF_ENDPOINT: z.string().url().default(HF_ENDPOINT_DEFAULT),
});

/** A byte size from the environment (see parseByteSize); empty = null. */
function envByteSize(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((v, ctx) => {
      if (v.trim() === '') {
        return null;
      }
      const bytes = parseByteSize(v);
      if (bytes === null) {
        ctx.addIssue({ code: 'custom', message: 'expected bytes, or a number with a unit such as 512MiB or 8G' });
        return z.NEVER;
      }
      return bytes;
    });
}

export interface SupervisorConfig {
  redisUrl: string;
  nodeId: string;
  llamaServerBin: string;
  /**
   * The key llama-server requires (`LLAMA_API_KEY` or the file `LLAMA_API_KEY_FILE`), or null for
   * none. It reaches llama-server through its environment, never its arguments.
   */
  llamaApiKey: string | null;
  /** Keys the operator allowed beyond the flag policy (`LLAMA_ALLOW_ARGS`). */
  allowArgs: string[];
  dataDir: string;
  presetPath: string;
  appliedConfigPath: string;
  /** The router settings used until the gateway applies others. */
  server: ServerConfig;
  autostart: boolean;
  startTimeoutMs: number;
  stopGraceMs: number;
  backoff: { minMs: number; maxMs: number };
  scanIntervalMs: number;
  reconcileIntervalMs: number;
  logBatchMs: number;
  workerConcurrency: number;
  log: { level: string; format: 'json' | 'pretty' | undefined };
  /** Memory-aware placement (issue #14). Bytes and ms. */
  placement: {
    mode: PlacementMode;
    gpuReserveBytes: number;
    ramBudgetBytes: number | null;
    ramReserveBytes: number;
    inFlightWaitMs: number;
    idleCheckMs: number;
    /** Measured footprints, kept across restarts. */
    footprintsPath: string;
  };
  /** Model downloads (MODEL_DOWNLOADS, HF_ENDPOINT, HF_TOKEN or HF_TOKEN_FILE: a secret, never logged). */
  downloads: { enabled: boolean; concurrency: number; lockMs: number; hfEndpoint: string; hfToken: string | null };
}

/**
 * Reads the supervisor's environment. Paths are made absolute (llama-server runs in the models
 * directory). LLAMA_EXTRA_ARGS is held to the flag policy: a refused flag (by its canonical name;
 * aliases are checked once the binary's catalogue is known, at start) is a ConfigError naming it.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): SupervisorConfig {
  const e = parseEnv('supervisor', EnvSchema, env);
  const modelsDir = resolve(e.MODELS_DIR);
  const dataDir = resolve(e.SUPERVISOR_DATA_DIR);
  const allowArgs = parseAllowArgs(e.LLAMA_ALLOW_ARGS);
  const refused = extraArgsPolicyProblems(e.LLAMA_EXTRA_ARGS, { args: null, modelsDir, allow: allowArgs }).filter((p) => p.key !== null);
  if (refused.length > 0) {
    throw new ConfigError('supervisor', [{ key: 'LLAMA_EXTRA_ARGS', message: `${refused.map(formatArgPolicyProblem).join('; ')} (LLAMA_ALLOW_ARGS can allow it)` }]);
  }
  return {
    redisUrl: redisUrlFromEnv('supervisor', e.REDIS_URL, env),
    nodeId: e.SUPERVISOR_NODE_ID,
    llamaServerBin: e.LLAMA_SERVER_BIN.includes('/') ? resolve(e.LLAMA_SERVER_BIN) : e.LLAMA_SERVER_BIN,
    llamaApiKey: readSecretEnv('supervisor', 'LLAMA_API_KEY', LlamaApiKeySchema, env),
    allowArgs,
    dataDir,
    presetPath: join(dataDir, 'models-preset.ini'),
    appliedConfigPath: join(dataDir, 'server-config.json'),
    server: {
      modelsDir,
      modelsMax: e.LLAMA_MODELS_MAX,
      parallel: e.LLAMA_PARALLEL,
      threadsHttp: e.LLAMA_THREADS_HTTP,
      ctxSize: e.LLAMA_CTX_SIZE,
      gpuLayers: e.LLAMA_GPU_LAYERS,
      host: e.LLAMA_HOST,
      port: e.LLAMA_PORT,
      autoload: e.LLAMA_MODELS_AUTOLOAD,
      extraArgs: e.LLAMA_EXTRA_ARGS,
    },
    autostart: e.LLAMA_AUTOSTART,
    startTimeoutMs: e.LLAMA_START_TIMEOUT_MS,
    stopGraceMs: e.LLAMA_STOP_GRACE_MS,
    backoff: { minMs: e.RESTART_BACKOFF_MIN_MS, maxMs: e.RESTART_BACKOFF_MAX_MS },
    scanIntervalMs: e.MODELS_SCAN_INTERVAL_MS,
    reconcileIntervalMs: e.RECONCILE_INTERVAL_MS,
    logBatchMs: e.LOG_BATCH_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    placement: {
      mode: e.PLACEMENT,
      gpuReserveBytes: e.GPU_MEMORY_RESERVE ?? 0,
      ramBudgetBytes: e.RAM_BUDGET,
      ramReserveBytes: e.RAM_RESERVE ?? 0,
      inFlightWaitMs: e.PLACEMENT_INFLIGHT_WAIT_MS,
      idleCheckMs: e.PLACEMENT_CHECK_INTERVAL_MS,
      footprintsPath: join(dataDir, 'footprints.json'),
    },
    downloads: {
      enabled: e.MODEL_DOWNLOADS,
      concurrency: e.DOWNLOAD_CONCURRENCY,
      lockMs: e.DOWNLOAD_LOCK_MS,
      hfEndpoint: e.HF_ENDPOINT.replace(/\/+$/, ''),
      hfToken: readSecretEnv('supervisor', 'HF_TOKEN', HfTokenSchema, env),
    },
  };
}
