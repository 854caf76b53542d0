import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { RedisKeys, StatusEventSchema, type LlamaStatus, type ModelState, type StatusEvent } from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { writeModelFarm, type ModelFarm, type ModelFarmOptions } from '../../src/gguf/model-farm.js';
import {
  freePort,
  RestartableRedis,
  startService,
  StreamRecorder,
  TestClient,
  waitFor,
  type ManagedProcess,
} from '@llamaproxy/tests/harness';

export interface FaultStackOptions {
  /** Short name, used in temporary folder names and the node id. */
  name: string;
  llamaServerBin: string;
  /** Demo models written to the models directory (tiny-llama-a, -b, ...). Default 2. */
  models?: number;
  /** Instead of demo models, a model farm (hard links; see tests/src/gguf/model-farm.ts). */
  farm?: ModelFarmOptions;
  /** The gateway's DATA_DIR (a small tmpfs in the disk-full test); a temporary folder by default. */
  gatewayDataDir?: string;
  supervisorEnv?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  /** Environment of the metrics collector, when `startMetrics` starts one. */
  metricsEnv?: Record<string, string>;
}

/**
 * The whole stack of one fault test, each part a real process: a private redis-server (restartable
 * on the same port, with an append-only file), the supervisor with a real llama-server in router
 * mode over generated tiny models, and a gateway (AUTH_MODE=none) with its SQLite file. Every part
 * can be killed and started again with the same environment.
 */
export class FaultStack {
  readonly dir: string;
  readonly modelsDir: string;
  readonly gatewayDataDir: string;
  readonly nodeId: string;
  readonly redis: RestartableRedis;
  readonly gatewayPort: number;
  readonly llamaPort: number;
  readonly gatewayUrl: string;
  readonly llamaUrl: string;
  /** Every status event the supervisor published, read straight from Redis (for what no client sees). */
  status: StreamRecorder;
  supervisor!: ManagedProcess;
  gateway!: ManagedProcess;
  /** The model farm, when the options asked for one. */
  farm: ModelFarm | null = null;
  /** Only once `startMetrics` ran (the fault tests do without it). */
  metrics: ManagedProcess | null = null;
  private readonly options: FaultStackOptions;
  private readonly clients: TestClient[] = [];

  private constructor(options: FaultStackOptions, dir: string, redis: RestartableRedis, ports: { gateway: number; llama: number }) {
    this.options = options;
    this.dir = dir;
    this.modelsDir = join(dir, 'models');
    this.gatewayDataDir = options.gatewayDataDir ?? join(dir, 'gateway');
    this.nodeId = `fault-${options.name}`;
    this.redis = redis;
    this.gatewayPort = ports.gateway;
    this.llamaPort = ports.llama;
    this.gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
    this.llamaUrl = `http://127.0.0.1:${ports.llama}`;
    this.status = new StreamRecorder(redis.url, RedisKeys.statusStream);
  }

  /** Writes the models, starts Redis, the supervisor and the gateway, and waits until llama-server runs. */
  static async start(options: FaultStackOptions): Promise<FaultStack> {
    const dir = mkdtempSync(join(tmpdir(), `llamaproxy-fault-${options.name}-`));
    const redis = await RestartableRedis.start(join(dir, 'redis'));
    const stack = new FaultStack(options, dir, redis, { gateway: await freePort(), llama: await freePort() });
    if (options.farm === undefined) {
      await writeDemoModels(stack.modelsDir, { count: options.models ?? 2 });
    } else {
      stack.farm = await writeModelFarm(stack.modelsDir, options.farm);
    }
    mkdirSync(stack.gatewayDataDir, { recursive: true });
    stack.startSupervisor();
    stack.startGateway();
    await stack.diagnose(async () => {
      await stack.waitGatewayReady();
      await stack.waitForLlama((s) => s.state === 'running', 'llama-server running', 90_000);
    });
    return stack;
  }

  /** The keys both services read, as the compose file gives them. */
  private sharedEnv(): Record<string, string> {
    return {
      REDIS_URL: this.redis.url,
      SUPERVISOR_NODE_ID: this.nodeId,
      MODELS_DIR: this.modelsDir,
      LLAMA_PORT: String(this.llamaPort),
      LLAMA_MODELS_MAX: '1',
      LLAMA_CTX_SIZE: '512',
      LLAMA_MODELS_AUTOLOAD: 'false',
    };
  }

  startSupervisor(extra: Record<string, string> = {}): ManagedProcess {
    this.supervisor = startService('supervisor', {
      ...this.sharedEnv(),
      LLAMA_SERVER_BIN: this.options.llamaServerBin,
      SUPERVISOR_DATA_DIR: join(this.dir, 'supervisor'),
      RESTART_BACKOFF_MIN_MS: '200',
      RESTART_BACKOFF_MAX_MS: '2000',
      MODELS_SCAN_INTERVAL_MS: '500',
      RECONCILE_INTERVAL_MS: '1000',
      LLAMA_STOP_GRACE_MS: '3000',
      LOG_BATCH_MS: '50',
      ...this.options.supervisorEnv,
      ...extra,
    });
    return this.supervisor;
  }

  startGateway(extra: Record<string, string> = {}): ManagedProcess {
    this.gateway = startService('gateway', {
      ...this.sharedEnv(),
      AUTH_MODE: 'none',
      DATA_DIR: this.gatewayDataDir,
      GATEWAY_PORT: String(this.gatewayPort),
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_REPLICA_ID: `gw-${this.options.name}`,
      ...this.options.gatewayEnv,
      ...extra,
    });
    return this.gateway;
  }

  /** The metrics collector, sampling this node's llama-server every second; no HTTP port. */
  startMetrics(extra: Record<string, string> = {}): ManagedProcess {
    this.metrics = startService('metrics', {
      ...this.sharedEnv(),
      METRICS_NODE_ID: this.nodeId,
      LLAMA_SERVER_URL: this.llamaUrl,
      DATA_DIR: this.gatewayDataDir,
      METRICS_INTERVAL_MS: '1000',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      ...this.options.metricsEnv,
      ...extra,
    });
    return this.metrics;
  }

  async waitGatewayReady(timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => (await fetch(`${this.gatewayUrl}/readyz`)).ok, { timeoutMs, what: 'gateway /readyz' });
  }

  /** A Socket.IO client of the gateway that records every event; closed by `dispose`. */
  async connect(): Promise<TestClient> {
    const client = await TestClient.connect(this.gatewayUrl);
    this.clients.push(client);
    return client;
  }

  /** The gateway's SQLite database, read-only; the caller closes it. */
  openDb(): Database.Database {
    return new Database(join(this.gatewayDataDir, 'llamaproxy.db'), { readonly: true, fileMustExist: true });
  }

  statusEvents(): StatusEvent[] {
    return this.status.entries.flatMap((e) => {
      const parsed = StatusEventSchema.safeParse(e);
      return parsed.success && parsed.data.nodeId === this.nodeId ? [parsed.data] : [];
    });
  }

  llamaStatuses(): LlamaStatus[] {
    return this.statusEvents().flatMap((e) => (e.kind === 'llama' || e.kind === 'state' ? [e.status] : []));
  }

  modelStates(modelId: string): ModelState[] {
    return this.statusEvents().flatMap((e) =>
      e.kind === 'model' ? (e.model.id === modelId ? [e.model] : []) : e.kind === 'models' ? e.models.filter((m) => m.id === modelId) : [],
    );
  }

  /** The newest llama-server status the supervisor published that satisfies `predicate`. */
  async waitForLlama(predicate: (s: LlamaStatus) => boolean, what: string, timeoutMs = 60_000): Promise<LlamaStatus> {
    return waitFor(() => this.llamaStatuses().reverse().find(predicate), { timeoutMs, what });
  }

  /** Runs `fn`; on failure, adds the services' last output lines to the error. */
  async diagnose<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const error = err as Error;
      error.message = `${error.message}\n--- supervisor\n${this.supervisor?.tail(30) ?? ''}\n--- gateway\n${this.gateway?.tail(30) ?? ''}`;
      throw error;
    }
  }

  async dispose(): Promise<void> {
    for (const client of this.clients) {
      client.close();
    }
    await this.metrics?.stop();
    await this.gateway?.stop();
    await this.supervisor?.stop(20_000);
    await this.status.close();
    await this.redis.dispose();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
