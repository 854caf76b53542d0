import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { AuthMode, DEFAULT_SERVER_CONFIG, GpuLayersSchema, NODE_OFFLINE_AFTER_MS, UsernameSchema, type ServerConfig } from '@llamaproxy/shared';
import { ConfigError, envBool, envInt, envList, envLlamaExtraArgs, envLogLevel, HF_ENDPOINT_DEFAULT, HfTokenSchema, LlamaApiKeySchema, parseEnv, readSecretEnv, redisUrlFromEnv } from '@llamaproxy/shared/node';

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
  /** Who may connect: `local` users in SQLite (default), `proxy` headers from a trusted proxy, or `none`. */
  AUTH_MODE: z.enum(AuthMode).default('local'),
  /** The first admin, created at start when no user exists (local mode). */
  ADMIN_USERNAME: UsernameSchema.optional(),
  ADMIN_PASSWORD: z.string().min(10).max(256).optional(),
  /** A file holding the first admin's password (a Docker secret); wins over ADMIN_PASSWORD. */
  ADMIN_PASSWORD_FILE: z.string().optional(),
  /** Origins besides the dashboard's own that may open sockets and send POSTs (never `*`). */
  ALLOWED_ORIGINS: envList(),
  /** Peers whose X-Forwarded-* and identity headers are believed: CIDRs or addresses (proxy-addr syntax, also `loopback`, `uniquelocal`). */
  TRUSTED_PROXIES: envList(),
  /** The stack's own pass-through hops (compose: `web`): addresses, CIDRs or host names. They add X-Forwarded-For but never vouch for a user. */
  INTERNAL_PROXIES: envList(),
  PROXY_USER_HEADER: z.string().default('Remote-User'),
  PROXY_GROUPS_HEADER: z.string().default('Remote-Groups'),
  PROXY_ADMIN_GROUPS: envList(),
  PROXY_OPERATOR_GROUPS: envList(),
  /** A session ends after this long without a request. */
  SESSION_IDLE_MINUTES: envInt(7 * 24 * 60, 1),
  /** A session ends this long after sign-in, however active. */
  SESSION_MAX_DAYS: envInt(30, 1, 3650),
  AUDIT_RETENTION_DAYS: envInt(365, 1, 36_500),
  /** Socket requests per connection: burst size and refill per second (token bucket). */
  RATE_LIMIT_REQUESTS_PER_SEC: envInt(20, 1),
  RATE_LIMIT_BURST: envInt(60, 1),
  /** Open sockets per user and per address on this replica. */
  MAX_CONNECTIONS_PER_USER: envInt(32, 1),
  MAX_CONNECTIONS_PER_ADDRESS: envInt(64, 1),
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
  /** No secret flags (`--api-key`, `--hf-token`): the supervisor refuses them too. */
  LLAMA_EXTRA_ARGS: envLlamaExtraArgs(),
  /** llama-server's router as the gateway reaches it (the `/v1` endpoint forwards there). */
  LLAMA_SERVER_URL: z.string().url().default('http://supervisor:8080'),
  /** Largest `/v1` request body (MiB); images in a multimodal chat are base64 inside it. */
  API_MAX_BODY_MB: envInt(16, 1, 1024),
  /** `/v1` requests per model across every replica (Redis; per replica while it is away), waiting and running together; beyond, 429. */
  API_MODEL_CONCURRENCY: envInt(10, 1, 100_000),
  /** How long `/v1` activity records are kept. */
  API_ACTIVITY_RETENTION_DAYS: envInt(90, 1, 36_500),
  /** Lets every signed-in user (viewers too) create and revoke `/v1` keys for themselves (`apikeys:own:*`). */
  API_KEYS_SELF_SERVICE: envBool(false),
  METRICS_RETENTION_PRUNE_MS: envInt(60_000, 100),
  /** A supervisor node not heard from for this long is shown offline (it reports every 10 s). */
  NODE_OFFLINE_AFTER_MS: envInt(NODE_OFFLINE_AFTER_MS, 1000),
  /** How often the alert rules are evaluated (by the one replica holding the alert lease). */
  ALERTS_EVAL_INTERVAL_MS: envInt(5000, 100, 600_000),
  /** Attempts per notification (the first included), with exponential backoff from ALERTS_RETRY_BACKOFF_MS. */
  ALERTS_RETRY_ATTEMPTS: envInt(6, 1, 50),
  ALERTS_RETRY_BACKOFF_MS: envInt(5000, 10, 3_600_000),
  ALERTS_HISTORY_DAYS: envInt(30, 1, 3650),
  /** The dashboard's public URL, linked from notifications (optional). */
  DASHBOARD_URL: z.string().url().optional(),
  LOG_LEVEL: envLogLevel,
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** Model downloads: off refuses `downloads:start` at once (the supervisor has the same switch). */
  MODEL_DOWNLOADS: envBool(true),
  /** The Hugging Face Hub (or a mirror) that `hf:search` and `hf:files` ask. */
  HF_ENDPOINT: z.string().url().default(HF_ENDPOINT_DEFAULT),
});

/** Identity settings, from the environment only. */
export interface AuthConfig {
  mode: AuthMode;
  /** The first admin to create when no user exists; null when not configured. */
  bootstrapAdmin: { username: string; password: string } | null;
  allowedOrigins: string[];
  trustedProxies: string[];
  internalProxies: string[];
  proxy: { userHeader: string; groupsHeader: string; adminGroups: string[]; operatorGroups: string[] };
  sessionIdleMs: number;
  sessionMaxMs: number;
  auditRetentionMs: number;
}

export interface GatewayConfig {
  /** The `/v1` endpoint: where it forwards, with which key, the keys from the environment, its limits. */
  api: { llamaUrl: string; llamaApiKey: string | null; environmentKeys: string[]; maxBodyBytes: number; modelConcurrency: number; activityRetentionMs: number; keysSelfService: boolean };
  redisUrl: string;
  host: string;
  port: number;
  dbPath: string;
  replicaId: string;
  nodeId: string;
  auth: AuthConfig;
  limits: { requestsPerSec: number; burst: number; connectionsPerUser: number; connectionsPerAddress: number };
  webDistDir: string | null;
  jobTimeoutMs: number;
  initialServerConfig: ServerConfig;
  pruneIntervalMs: number;
  nodeOfflineAfterMs: number;
  alerts: { evalIntervalMs: number; retryAttempts: number; retryBackoffMs: number; historyDays: number; metricsStaleMs: number; dashboardUrl: string | null };
  log: { level: string; format: 'json' | 'pretty' | undefined };
  /** Model downloads: the switch, and the Hub the gateway searches (HF_TOKEN or HF_TOKEN_FILE: a secret, never logged). */
  downloads: { enabled: boolean; hfEndpoint: string; hfToken: string | null };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = parseEnv('gateway', EnvSchema, env);
  const gpuLayers = GpuLayersSchema.parse(/^\d+$/.test(e.LLAMA_GPU_LAYERS) ? Number(e.LLAMA_GPU_LAYERS) : e.LLAMA_GPU_LAYERS);
  return {
    redisUrl: redisUrlFromEnv('gateway', e.REDIS_URL, env),
    host: e.GATEWAY_HOST,
    port: e.GATEWAY_PORT,
    dbPath: join(e.DATA_DIR, 'llamaproxy.db'),
    replicaId: e.GATEWAY_REPLICA_ID,
    nodeId: e.SUPERVISOR_NODE_ID,
    auth: {
      mode: e.AUTH_MODE,
      bootstrapAdmin: bootstrapAdmin(e.ADMIN_USERNAME, e.ADMIN_PASSWORD_FILE, e.ADMIN_PASSWORD),
      allowedOrigins: e.ALLOWED_ORIGINS.map(normalizeOrigin),
      trustedProxies: e.TRUSTED_PROXIES,
      internalProxies: e.INTERNAL_PROXIES,
      proxy: {
        userHeader: e.PROXY_USER_HEADER.toLowerCase(),
        groupsHeader: e.PROXY_GROUPS_HEADER.toLowerCase(),
        adminGroups: e.PROXY_ADMIN_GROUPS,
        operatorGroups: e.PROXY_OPERATOR_GROUPS,
      },
      sessionIdleMs: e.SESSION_IDLE_MINUTES * 60_000,
      sessionMaxMs: e.SESSION_MAX_DAYS * 86_400_000,
      auditRetentionMs: e.AUDIT_RETENTION_DAYS * 86_400_000,
    },
    limits: {
      requestsPerSec: e.RATE_LIMIT_REQUESTS_PER_SEC,
      burst: e.RATE_LIMIT_BURST,
      connectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      connectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS,
    },
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
    api: {
      llamaUrl: e.LLAMA_SERVER_URL.replace(/\/+$/, ''),
      llamaApiKey: readSecretEnv('gateway', 'LLAMA_API_KEY', LlamaApiKeySchema, env),
      environmentKeys: environmentApiKeys(env),
      maxBodyBytes: e.API_MAX_BODY_MB * 1024 * 1024,
      modelConcurrency: e.API_MODEL_CONCURRENCY,
      activityRetentionMs: e.API_ACTIVITY_RETENTION_DAYS * 86_400_000,
      keysSelfService: e.API_KEYS_SELF_SERVICE,
    },
    pruneIntervalMs: e.METRICS_RETENTION_PRUNE_MS,
    nodeOfflineAfterMs: e.NODE_OFFLINE_AFTER_MS,
    alerts: {
      evalIntervalMs: e.ALERTS_EVAL_INTERVAL_MS,
      retryAttempts: e.ALERTS_RETRY_ATTEMPTS,
      retryBackoffMs: e.ALERTS_RETRY_BACKOFF_MS,
      historyDays: e.ALERTS_HISTORY_DAYS,
      // A sample older than this (the collector reports every few seconds) is not judged by.
      metricsStaleMs: 5 * 60_000,
      dashboardUrl: e.DASHBOARD_URL ?? null,
    },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT },
    downloads: { enabled: e.MODEL_DOWNLOADS, hfEndpoint: e.HF_ENDPOINT.replace(/\/+$/, ''), hfToken: readSecretEnv('gateway', 'HF_TOKEN', HfTokenSchema, env) },
  };
}

function bootstrapAdmin(username: string | undefined, passwordFile: string | undefined, password: string | undefined): AuthConfig['bootstrapAdmin'] {
  if (username === undefined) {
    if (passwordFile !== undefined || password !== undefined) {
      throw new ConfigError('gateway', [{ key: 'ADMIN_USERNAME', message: 'required with ADMIN_PASSWORD or ADMIN_PASSWORD_FILE' }]);
    }
    return null;
  }
  let secret = password;
  if (passwordFile !== undefined) {
    try {
      secret = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError('gateway', [{ key: 'ADMIN_PASSWORD_FILE', message: `cannot read ${passwordFile}: ${(err as Error).message}` }]);
    }
  }
  if (secret === undefined || secret.length < 10) {
    throw new ConfigError('gateway', [{ key: passwordFile === undefined ? 'ADMIN_PASSWORD' : 'ADMIN_PASSWORD_FILE', message: 'the first admin needs a password of at least 10 characters' }]);
  }
  return { username, password: secret };
}

/** `https://Example.com:443/` → `https://example.com`; `*` is refused (the issue's rule: never a wildcard). */
function normalizeOrigin(value: string): string {
  if (value === '*') {
    throw new ConfigError('gateway', [{ key: 'ALLOWED_ORIGINS', message: '"*" is not allowed: list each origin' }]);
  }
  try {
    return new URL(value).origin;
  } catch {
    throw new ConfigError('gateway', [{ key: 'ALLOWED_ORIGINS', message: `"${value}" is not an origin like https://dash.example.com` }]);
  }
}

/** One key of `API_KEYS`: printable ASCII without spaces or commas, at least 16 characters. */
const EnvironmentApiKeySchema = z.string().min(16, 'each key at least 16 characters (e.g. `openssl rand -hex 32`)').max(512).regex(/^[\x21-\x2b\x2d-\x7e]+$/, 'printable ASCII without spaces or commas');

/** `API_KEYS` (or the file `API_KEYS_FILE`): comma- or line-separated keys for the `/v1` endpoint. */
function environmentApiKeys(env: NodeJS.ProcessEnv): string[] {
  const raw = readSecretEnv('gateway', 'API_KEYS', z.string().min(1), env);
  if (raw === null) {
    return [];
  }
  const keys = raw.split(/[,\n]/).map((k) => k.trim()).filter((k) => k.length > 0);
  const bad = keys.map((k) => EnvironmentApiKeySchema.safeParse(k)).find((r) => !r.success);
  if (bad !== undefined && !bad.success) {
    // The message describes the rule, never the key.
    throw new ConfigError('gateway', [{ key: env.API_KEYS_FILE ? 'API_KEYS_FILE' : 'API_KEYS', message: bad.error.issues[0]?.message ?? 'invalid key' }]);
  }
  return [...new Set(keys)];
}
