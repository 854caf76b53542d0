import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { writeDemoModels } from '../../src/gguf/tiny-model.js';
import { writeModelFarm, type ModelFarm, type ModelFarmOptions } from '../../src/gguf/model-farm.js';
import { freePort, startService, TestClient, waitFor, type ManagedProcess } from '../../src/harness/index.js';
import { startNginx, type NginxFixture } from './nginx.js';
import { ensureWebBuild } from './web-build.js';

export interface WebStackOptions {
  /** A Redis URL with a database index of its own; it is flushed first. */
  redisUrl: string;
  llamaServerBin: string;
  /** Where nginx mounts the app: "/" or "/llama/". */
  basePath: string;
  nodeId: string;
  /** Demo models written to the models directory (tiny-llama-a, -b, ...). */
  modelCount: number;
  /** Instead of the demo models, a model farm (`writeModelFarm`) of `farm.count` entries (then `modelCount` is not read). */
  farm?: ModelFarmOptions;
  /** Longest wait for the catalogue and a running llama-server (default 60 s; a large farm takes longer to scan). */
  servicesTimeoutMs?: number;
  /**
   * The gateway's AUTH_MODE (default `none`: everyone is admin). With `local` and no user the
   * gateway logs a one-time setup token (`setupToken()`), and `start` does not wait for the
   * services through the socket (nobody can sign in yet): call `waitForServices` with a session
   * cookie once a user exists.
   */
  authMode?: 'none' | 'local';
  /** Extra environment of the supervisor (PLACEMENT, RAM_BUDGET, ...). */
  supervisorEnv?: Record<string, string>;
  /** More environment for every service (e.g. HF_ENDPOINT of the Hub stand-in). */
  env?: Record<string, string>;
}

/** The JSON log line the gateway writes in `local` mode while no user exists. */
const SETUP_TOKEN_MESSAGE = 'first-run setup token';

/**
 * The whole stack as local processes, with the keys the compose file gives each service:
 * supervisor (real llama-server over generated tiny models), gateway, metrics collector, and
 * the built web app behind nginx with the real site template. `stop()` stops whatever started,
 * also after a failed start.
 */
export class WebStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'llamaproxy-browser-'));
  readonly modelsDir = join(this.dir, 'models');
  supervisor: ManagedProcess | null = null;
  gateway: ManagedProcess | null = null;
  metrics: ManagedProcess | null = null;
  nginx: NginxFixture | null = null;
  gatewayUrl = '';
  readonly options: WebStackOptions;
  /** The farm written when `options.farm` was given. */
  farm: ModelFarm | null = null;
  /** The setup token from the gateway's log, captured from its first line on (the log rolls). */
  private setupTokenLine: Promise<string> | null = null;

  private constructor(options: WebStackOptions) {
    this.options = options;
  }

  /** The app's public URL, under the base path. */
  get url(): string {
    if (this.nginx === null) {
      throw new Error('the web stack is not started');
    }
    return this.nginx.url;
  }

  static async start(options: WebStackOptions): Promise<WebStack> {
    const stack = new WebStack(options);
    try {
      await stack.boot();
    } catch (err) {
      const detail = `${(err as Error).message}\n${stack.diagnostics()}`;
      await stack.stop();
      throw new Error(detail);
    }
    return stack;
  }

  private async boot(): Promise<void> {
    const { redisUrl, nodeId } = this.options;
    // The build runs first: on 2 cores it would slow the services' start to a crawl.
    const dist = await ensureWebBuild();
    if (this.options.farm !== undefined) {
      this.farm = await writeModelFarm(this.modelsDir, this.options.farm);
    } else {
      await writeDemoModels(this.modelsDir, { count: this.options.modelCount });
    }
    const gatewayDir = join(this.dir, 'gateway');
    mkdirSync(gatewayDir, { recursive: true });
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();

    const llamaPort = await freePort();
    const gatewayPort = await freePort();
    const metricsPort = await freePort();
    const common = {
      REDIS_URL: redisUrl,
      SUPERVISOR_NODE_ID: nodeId,
      METRICS_NODE_ID: nodeId,
      MODELS_DIR: this.modelsDir,
      LLAMA_PORT: String(llamaPort),
      LLAMA_SERVER_URL: `http://127.0.0.1:${llamaPort}`,
      LLAMA_MODELS_MAX: '1',
      LLAMA_CTX_SIZE: '512',
      LLAMA_MODELS_AUTOLOAD: 'false',
      ...this.options.env,
    };
    this.supervisor = startService('supervisor', { ...common, LLAMA_SERVER_BIN: this.options.llamaServerBin, SUPERVISOR_DATA_DIR: join(this.dir, 'supervisor'), ...this.options.supervisorEnv });
    const authMode = this.options.authMode ?? 'none';
    this.gateway = startService('gateway', { ...common, DATA_DIR: gatewayDir, GATEWAY_PORT: String(gatewayPort), GATEWAY_HOST: '127.0.0.1', AUTH_MODE: authMode });
    if (authMode === 'local') {
      this.setupTokenLine = this.gateway.waitForLine(new RegExp(SETUP_TOKEN_MESSAGE), 60_000);
      // Attached now; awaited by setupToken().
      this.setupTokenLine.catch(() => undefined);
    }
    this.metrics = startService('metrics', {
      ...common,
      DATA_DIR: gatewayDir,
      METRICS_INTERVAL_MS: '1000',
      METRICS_PORT: String(metricsPort),
      METRICS_HOST: '127.0.0.1',
    });
    this.gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    this.nginx = await startNginx({ root: dist, basePath: this.options.basePath, gatewayUpstream: this.gatewayUrl });

    await waitFor(async () => (await fetch(`${this.gatewayUrl}/readyz`)).ok, { timeoutMs: 30_000, what: 'gateway /readyz' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).ok, { timeoutMs: 30_000, what: 'metrics collector /metrics' });
    if (authMode === 'none') {
      await this.waitForServices();
    }
  }

  /**
   * Waits until the supervisor has reported its catalogue and a running llama-server: the pages
   * are only worth opening then. `headers` carry a session `cookie` when sign-in is on.
   */
  async waitForServices(headers: Record<string, string> = {}): Promise<void> {
    const client = await TestClient.connect(this.gatewayUrl, undefined, headers);
    try {
      await waitFor(
        async () => {
          const models = await client.request('models:list', { limit: 1 });
          const status = await client.request('llama:status', {});
          return models.success && models.data.total === (this.options.farm?.count ?? this.options.modelCount) && status.success && status.data.nodes[0]?.state === 'running';
        },
        { timeoutMs: this.options.servicesTimeoutMs ?? 60_000, what: 'the catalogue and a running llama-server reported to the gateway' },
      );
    } finally {
      client.close();
    }
  }

  /** The one-time setup token the gateway logged (AUTH_MODE=local with no user yet). */
  async setupToken(): Promise<string> {
    if (this.setupTokenLine === null) {
      throw new Error('the gateway prints a setup token only with authMode "local"');
    }
    const line = await this.setupTokenLine;
    const entry = JSON.parse(line.slice(line.indexOf('{'))) as { message?: unknown; token?: unknown };
    if (entry.message !== SETUP_TOKEN_MESSAGE || typeof entry.token !== 'string' || entry.token === '') {
      throw new Error(`no token in the gateway's setup line: ${line}`);
    }
    return entry.token;
  }

  /** The last lines of every process, for a failure message. */
  diagnostics(): string {
    const parts: string[] = [];
    for (const proc of [this.supervisor, this.gateway, this.metrics, this.nginx?.process]) {
      if (proc) {
        parts.push(`--- ${proc.name}${proc.running ? '' : ` (exited ${proc.exitCode ?? proc.exitSignal})`}\n${proc.tail(30)}`);
      }
    }
    if (this.nginx) {
      parts.push(`--- nginx error.log\n${this.nginx.errorLog().split('\n').slice(-20).join('\n')}`);
    }
    return parts.join('\n');
  }

  /** Stops everything that started (reverse order), and removes the stack's files. Never throws. */
  async stop(): Promise<void> {
    const steps: [string, () => Promise<void> | undefined][] = [
      ['nginx', () => this.nginx?.stop()],
      ['metrics', () => this.metrics?.stop()],
      ['gateway', () => this.gateway?.stop()],
      // The supervisor stops llama-server (and its model instances) before it exits.
      ['supervisor', () => this.supervisor?.stop(20_000)],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        console.error(`[web-stack] stopping ${name}: ${(err as Error).message}`);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
