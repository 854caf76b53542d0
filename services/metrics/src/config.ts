import { hostname } from 'node:os';
import { z } from 'zod';
import { envInt, envLogLevel, LlamaApiKeySchema, parseEnv, readSecretEnv, redisUrlFromEnv } from '@llamaproxy/shared/node';

/** Environment of the metrics collector. The compose file and `npm run dev` set the same keys. */
const EnvSchema = z.object({
  REDIS_URL: z.string().url(),
  /** Must equal the supervisor's SUPERVISOR_NODE_ID: the gateway files samples under it. */
  METRICS_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." and "-" only')
    .default(hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64)),
  LLAMA_SERVER_URL: z.string().url().default('http://supervisor:8080'),
  /** Until the dashboard's settings say otherwise (pub/sub on the settings channel). */
  METRICS_INTERVAL_MS: envInt(2000, 250, 60_000),
  /** Prometheus exposition (`GET /metrics`). */
  METRICS_PORT: envInt(9464, 0, 65_535),
  METRICS_HOST: z.string().default('0.0.0.0'),
  MODELS_DIR: z.string().default('/models'),
  DATA_DIR: z.string().default('/data'),
  NVIDIA_SMI_BIN: z.string().default('nvidia-smi'),
  /** Process name (`comm`, 15 characters at most) of llama-server: the router and its model instances. */
  LLAMA_PROCESS_NAME: z.string().min(1).default('llama-server'),
  /**
   * procfs for host-wide figures. CPU, memory, load and uptime are host-wide in any container;
   * network throughput is read from `<HOST_PROC>/1/net/dev`, the network of that procfs' PID 1,
   * so mount the host's /proc here (e.g. /host/proc) to report the host's network.
   */
  HOST_PROC: z.string().default('/proc'),
  LOG_LEVEL: envLogLevel,
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
});

export interface MetricsConfig {
  redisUrl: string;
  nodeId: string;
  llamaServerUrl: string;
  /** llama-server's API key (`LLAMA_API_KEY` or the file `LLAMA_API_KEY_FILE`), or null for none. */
  llamaApiKey: string | null;
  intervalMs: number;
  http: { host: string; port: number };
  disks: { label: string; path: string }[];
  nvidiaSmiBin: string;
  llamaProcessName: string;
  hostProc: string;
  log: { level: string; format: 'json' | 'pretty' | undefined };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): MetricsConfig {
  const e = parseEnv('metrics', EnvSchema, env);
  return {
    redisUrl: redisUrlFromEnv('metrics', e.REDIS_URL, env),
    nodeId: e.METRICS_NODE_ID,
    llamaServerUrl: e.LLAMA_SERVER_URL.replace(/\/+$/, ''),
    llamaApiKey: readSecretEnv('metrics', 'LLAMA_API_KEY', LlamaApiKeySchema, env),
    intervalMs: e.METRICS_INTERVAL_MS,
    http: { host: e.METRICS_HOST, port: e.METRICS_PORT },
    disks: [
      { label: 'models', path: e.MODELS_DIR },
      { label: 'data', path: e.DATA_DIR },
    ],
    nvidiaSmiBin: e.NVIDIA_SMI_BIN,
    llamaProcessName: e.LLAMA_PROCESS_NAME,
    hostProc: e.HOST_PROC.replace(/\/+$/, '') || '/',
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
  };
}
