import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_SERVER_CONFIG, GpuLayersSchema, Role, type ServerConfig } from '@llamaproxy/shared';
import { envBool, envInt, envList, envLogLevel, parseEnv } from '@llamaproxy/shared/node';

const EnvSchema = z.object({
  REDIS_URL: z.string().url(),
  GATEWAY_HOST: z.string().default('0.0.0.0'),
  GATEWAY_PORT: envInt(3000, 0, 65_535),
  /** Folder of the SQLite database (a shared volume in compose). */
  DATA_DIR: z.string().default('/data'),
  /** Identifies this replica in the Redis consumer group. */
  GATEWAY_REPLICA_ID: z.string().default(`${hostname()}-${process.pid}`),
  /** The supervisor node that control requests go to. */
  SUPERVISOR_NODE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default(hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64)),
  /** Role of every connection until sign-in exists. */
  DEFAULT_ROLE: z.enum(Role).default('admin'),
  /** Serve the built web app from here too (development); in compose the web service does. */
  WEB_DIST_DIR: z.string().optional(),
  /** How long a request waits for a control job to be accepted before answering. */
  JOB_TIMEOUT_MS: envInt(15 * 60_000, 1000),
  // The router settings the stack starts with: the same keys the supervisor reads.
  MODELS_DIR: z.string().default(DEFAULT_SERVER_CONFIG.modelsDir),
  LLAMA_HOST: z.string().default(DEFAULT_SERVER_CONFIG.host),
  LLAMA_PORT: envInt(DEFAULT_SERVER_CONFIG.port, 1, 65_535),
  LLAMA_MODELS_MAX: envInt(DEFAULT_SERVER_CONFIG.modelsMax, 0, 256),
  LLAMA_PARALLEL: envInt(DEFAULT_SERVER_CONFIG.parallel, 1, 256),
  LLAMA_THREADS_HTTP: envInt(DEFAULT_SERVER_CONFIG.threadsHttp, -1, 1024),
  LLAMA_CTX_SIZE: envInt(DEFAULT_SERVER_CONFIG.ctxSize, 0),
  LLAMA_GPU_LAYERS: z.string().default(String(DEFAULT_SERVER_CONFIG.gpuLayers)),
  LLAMA_MODELS_AUTOLOAD: envBool(DEFAULT_SERVER_CONFIG.autoload),
  LLAMA_EXTRA_ARGS: envList(),
  METRICS_RETENTION_PRUNE_MS: envInt(60_000, 100),
  LOG_LEVEL: envLogLevel,
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export interface GatewayConfig {
  redisUrl: string;
  host: string;
  port: number;
  dbPath: string;
  replicaId: string;
  nodeId: string;
  defaultRole: Role;
  webDistDir: string | null;
  jobTimeoutMs: number;
  initialServerConfig: ServerConfig;
  pruneIntervalMs: number;
  log: { level: string; format: 'json' | 'pretty' | undefined };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv('gateway', EnvSchema, env);
  const gpuLayers = GpuLayersSchema.parse(/^\d+$/.test(e.LLAMA_GPU_LAYERS) ? Number(e.LLAMA_GPU_LAYERS) : e.LLAMA_GPU_LAYERS);
  return {
    redisUrl: e.REDIS_URL,
    host: e.GATEWAY_HOST,
    port: e.GATEWAY_PORT,
    dbPath: join(e.DATA_DIR, 'llamaproxy.db'),
    replicaId: e.GATEWAY_REPLICA_ID,
    nodeId: e.SUPERVISOR_NODE_ID,
    defaultRole: e.DEFAULT_ROLE,
    webDistDir: e.WEB_DIST_DIR ?? null,
    jobTimeoutMs: e.JOB_TIMEOUT_MS,
    initialServerConfig: {
      modelsDir: e.MODELS_DIR,
      modelsMax: e.LLAMA_MODELS_MAX,
      parallel: e.LLAMA_PARALLEL,
      threadsHttp: e.LLAMA_THREADS_HTTP,
      ctxSize: e.LLAMA_CTX_SIZE,
      gpuLayers,
      host: e.LLAMA_HOST,
      port: e.LLAMA_PORT,
      autoload: e.LLAMA_MODELS_AUTOLOAD,
      extraArgs: e.LLAMA_EXTRA_ARGS,
    },
    pruneIntervalMs: e.METRICS_RETENTION_PRUNE_MS,
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
  };
}
