import { EventEmitter } from 'node:events';
import {
  AppError,
  ErrorCode,
  formatArgPolicyProblem,
  redactSecrets,
  ServerConfigSchema,
  type Catalogue,
  type LlamaArgCatalogue,
  type LlamaStatus,
  type LogRecord,
  type ModelState,
  type PresetDocument,
  type ServerConfig,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { LlamaProcess } from '../repositories/llama-process.js';
import type { JsonFile, PresetFile } from '../repositories/preset-file.js';
import type { RouterClient } from '../repositories/router-client.js';
import type { ArgGuard } from './arg-guard.js';
import { catalogueSignature, type CatalogueScanner } from './catalogue.js';
import { buildRouterArgs } from './llama-args.js';
import { explainFailure, LlamaLogParser, LogTail } from './llama-log.js';
import { ModelStates } from './model-states.js';

export interface SupervisorOptions {
  nodeId: string;
  startTimeoutMs: number;
  stopGraceMs: number;
  backoff: { minMs: number; maxMs: number };
  reconcileIntervalMs: number;
  scanIntervalMs: number;
  /** How long a model may take to load before the job gives up. */
  loadTimeoutMs?: number;
}

export interface SupervisorDeps {
  logger: Logger;
  spawn: (args: string[]) => LlamaProcess;
  /** A client for the router at `url` (it carries llama-server's API key, when there is one). */
  connect: (url: string) => RouterClient;
  scanner: CatalogueScanner;
  presets: PresetFile;
  appliedConfig: JsonFile<ServerConfig>;
  args: LlamaArgCatalogue | null;
  /** The flag policy, enforced before the preset file is written and before llama-server starts. */
  guard: ArgGuard;
}

interface SupervisorEvents {
  status: [status: LlamaStatus];
  model: [state: ModelState];
  catalogue: [catalogue: Catalogue];
  log: [record: LogRecord];
}

/** A process stays up this long before its crash counter resets. */
const STABLE_AFTER_MS = 60_000;

/**
 * Owns llama-server: starts it in router mode, knows the state of every model, loads and unloads
 * on request, applies configuration and presets, restarts it with capped backoff after a crash.
 * Everything it learns is emitted as events (status, model, catalogue, log) for the publisher.
 */
export class LlamaSupervisor extends EventEmitter<SupervisorEvents> {
  private readonly options: SupervisorOptions;
  private readonly deps: SupervisorDeps;
  private readonly log: Logger;
  private readonly parser = new LlamaLogParser();
  private readonly tail = new LogTail(40);
  readonly models: ModelStates;
  private config: ServerConfig;
  /** From the environment only: what llama-server reads and where it listens. */
  private readonly pinned: Pick<ServerConfig, 'modelsDir' | 'host' | 'port'>;
  private proc: LlamaProcess | null = null;
  private client: RouterClient | null = null;
  private sseAbort: AbortController | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private crashCount = 0;
  private catalogue: Catalogue | null = null;
  private catalogueSig = '';
  private lifecycle: Promise<unknown> = Promise.resolve();
  private closed = false;
  private statusValue: LlamaStatus;

  constructor(config: ServerConfig, options: SupervisorOptions, deps: SupervisorDeps) {
    super();
    this.config = config;
    this.pinned = { modelsDir: config.modelsDir, host: config.host, port: config.port };
    this.options = options;
    this.deps = deps;
    this.log = deps.logger.child({ module: 'llama-supervisor' });
    this.models = new ModelStates((modelId, exitCode) => {
      const lines = this.tail.modelLines(modelId);
      const reason = explainFailure(lines);
      return {
        message: `model instance exited with code ${exitCode ?? '?'}${reason ? `: ${reason}` : ''}`,
        logTail: lines.slice(-15),
      };
    });
    this.models.on('change', (state) => this.emit('model', state));
    this.statusValue = {
      nodeId: options.nodeId,
      state: 'stopped',
      pid: null,
      url: null,
      startedAt: null,
      restarts: 0,
      nextRestartAt: null,
      lastExit: null,
      args: [],
      updatedAt: Date.now(),
    };
  }

  get status(): LlamaStatus {
    return this.statusValue;
  }

  get currentConfig(): ServerConfig {
    return this.config;
  }

  get currentCatalogue(): Catalogue | null {
    return this.catalogue;
  }

  get argCatalogue(): LlamaArgCatalogue | null {
    return this.deps.args;
  }

  /** Loads the persisted configuration, scans the models directory and starts watching it. */
  async init(): Promise<void> {
    const saved = await this.deps.appliedConfig.read();
    const parsed = ServerConfigSchema.safeParse(saved);
    const refused = parsed.success ? this.deps.guard.extraArgsPolicyProblems(parsed.data.extraArgs) : [];
    if (refused.length > 0) {
      // Written by an older version, or by hand: the environment's configuration is used instead.
      this.log.warn('ignoring the configuration last applied by the gateway: the flag policy refuses it', {
        path: this.deps.appliedConfig.path,
        error: refused.map(formatArgPolicyProblem).join('; '),
      });
    } else if (parsed.success) {
      this.config = this.withPinned(parsed.data);
      this.log.info('using the configuration last applied by the gateway', { path: this.deps.appliedConfig.path });
    }
    await this.deps.presets.ensure();
    await this.rescan();
    this.scanTimer = setInterval(() => void this.rescan().catch((err: unknown) => this.log.warn('scan failed', { error: String(err) })), this.options.scanIntervalMs);
    this.scanTimer.unref();
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Serializes start/stop/restart/apply so they never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(fn, fn);
    this.lifecycle = run.catch(() => undefined);
    return run;
  }

  start(): Promise<LlamaStatus> {
    return this.exclusive(() => this.doStart());
  }

  stop(): Promise<LlamaStatus> {
    return this.exclusive(() => this.doStop());
  }

  restart(): Promise<LlamaStatus> {
    return this.exclusive(async () => {
      await this.doStop();
      return this.doStart();
    });
  }

  /**
   * Validates a new configuration, restarts llama-server with it and keeps it. When llama-server
   * will not start with it, the previous configuration is restored and the job fails with why.
   */
  applyConfig(next: ServerConfig): Promise<LlamaStatus> {
    return this.exclusive(async () => {
      this.deps.guard.checkExtraArgs(next.extraArgs);
      const config = this.withPinned(next);
      const previous = this.config;
      const wasRunning = this.proc !== null;
      await this.doStop();
      this.config = config;
      try {
        const status = await this.doStart();
        await this.deps.appliedConfig.write(config);
        return status;
      } catch (err) {
        this.log.warn('new configuration failed to start; restoring the previous one', { error: (err as Error).message });
        this.config = previous;
        if (wasRunning) {
          await this.doStart().catch(() => undefined);
        }
        if (err instanceof AppError && err.code === ErrorCode.ARG_NOT_ALLOWED) {
          throw err;
        }
        throw new AppError(ErrorCode.INVALID_ARGUMENT, `llama-server did not start with the new configuration: ${(err as Error).message}`);
      }
    });
  }

  private async doStart(): Promise<LlamaStatus> {
    if (this.closed) {
      throw new AppError(ErrorCode.LLAMA_NOT_RUNNING, 'supervisor is shutting down');
    }
    if (this.proc !== null && this.statusValue.state === 'running') {
      return this.statusValue;
    }
    this.clearRestartTimer();
    // The policy again, on what llama-server is about to read: the configuration may come from the
    // environment or an older version, and the preset file from disk.
    this.deps.guard.checkExtraArgs(this.config.extraArgs);
    this.deps.guard.checkPreset(await this.readPreset());
    const args = buildRouterArgs(this.config, this.deps.presets.path);
    this.parser.reset();
    this.models.routerStarted();
    const proc = this.deps.spawn(args);
    this.proc = proc;
    const url = `http://${connectHost(this.config.host)}:${this.config.port}`;
    this.client = this.deps.connect(url);
    const startedAt = Date.now();
    // Shown in the dashboard and kept in the database: secret flags' values never leave here.
    this.setStatus({ state: 'starting', pid: proc.pid, url, startedAt, args: redactSecrets(args) as string[], nextRestartAt: null });
    this.log.info('starting llama-server', { pid: proc.pid, url });

    proc.on('line', (line) => this.onLine(line));
    let ready = false;
    proc.once('exit', (exit) => {
      if (this.proc === proc) {
        this.onExit(exit.code, exit.signal, ready);
      }
    });

    const deadline = startedAt + this.options.startTimeoutMs;
    while (!(await this.client.health())) {
      if (!proc.running) {
        const reason = explainFailure(this.tail.lines(20)) ?? 'no output';
        throw new AppError(ErrorCode.LLAMA_START_FAILED, `llama-server exited during start-up: ${reason}`);
      }
      if (Date.now() > deadline) {
        await proc.stop(this.options.stopGraceMs);
        throw new AppError(ErrorCode.LLAMA_START_FAILED, `llama-server did not become healthy within ${this.options.startTimeoutMs} ms`);
      }
      await delay(100);
    }
    ready = true;
    this.setStatus({ state: 'running' });
    this.log.info('llama-server is ready', { pid: proc.pid, ms: Date.now() - startedAt });
    this.followEvents(this.client);
    this.reconcileTimer = setInterval(() => void this.reconcile(), this.options.reconcileIntervalMs);
    this.reconcileTimer.unref();
    await this.reconcile();
    return this.statusValue;
  }

  private async doStop(): Promise<LlamaStatus> {
    this.clearRestartTimer();
    const proc = this.proc;
    if (proc === null) {
      if (this.statusValue.state !== 'stopped') {
        this.setStatus({ state: 'stopped', pid: null, nextRestartAt: null });
      }
      return this.statusValue;
    }
    this.setStatus({ state: 'stopping' });
    this.detach();
    const exit = await proc.stop(this.options.stopGraceMs);
    this.models.resetAll(new AppError(ErrorCode.LLAMA_NOT_RUNNING, 'llama-server was stopped'));
    this.setStatus({
      state: 'stopped',
      pid: null,
      lastExit: { code: exit.code, signal: exit.signal, at: Date.now(), logTail: this.tail.lines(10) },
    });
    this.log.info('llama-server stopped', { code: exit.code, signal: exit.signal });
    return this.statusValue;
  }

  /** Stops following the current process (timers, SSE) without killing it. */
  private detach(): void {
    this.proc = null;
    this.sseAbort?.abort();
    this.sseAbort = null;
    if (this.reconcileTimer !== null) {
      clearInterval(this.reconcileTimer);
      this.reconcileTimer = null;
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, wasReady: boolean): void {
    const lastExit = { code, signal, at: Date.now(), logTail: this.tail.lines(15) };
    const uptime = Date.now() - (this.statusValue.startedAt ?? Date.now());
    this.detach();
    const err = new AppError(ErrorCode.LLAMA_CRASHED, `llama-server exited unexpectedly (${signal ?? `code ${code}`})`);
    this.models.resetAll(err);
    if (!wasReady) {
      // The start-up path reports this failure itself.
      this.setStatus({ state: 'failed', pid: null, lastExit });
      return;
    }
    if (uptime > STABLE_AFTER_MS) {
      this.crashCount = 0;
    }
    const waitMs = Math.min(this.options.backoff.maxMs, this.options.backoff.minMs * 2 ** this.crashCount);
    this.crashCount++;
    this.log.error('llama-server crashed; restarting', { code, signal, restartInMs: waitMs });
    this.setStatus({ state: 'crashed', pid: null, lastExit, nextRestartAt: Date.now() + waitMs, restarts: this.statusValue.restarts + 1 });
    this.scheduleRestart(waitMs);
  }

  private scheduleRestart(waitMs: number): void {
    this.clearRestartTimer();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      void this.exclusive(() => this.doStart()).catch((err: unknown) => {
        const next = Math.min(this.options.backoff.maxMs, this.options.backoff.minMs * 2 ** this.crashCount);
        this.crashCount++;
        this.log.error('restart failed', { error: (err as Error).message, retryInMs: next });
        this.setStatus({ state: 'crashed', nextRestartAt: Date.now() + next });
        this.scheduleRestart(next);
      });
    }, waitMs);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer !== null) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
  }

  /** Stops llama-server for good (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.scanTimer !== null) {
      clearInterval(this.scanTimer);
    }
    this.clearRestartTimer();
    await this.exclusive(() => this.doStop());
  }

  // ---- models ----------------------------------------------------------------------------

  private requireRunning(): RouterClient {
    if (this.client === null || this.statusValue.state !== 'running') {
      throw new AppError(ErrorCode.LLAMA_NOT_RUNNING, `llama-server is ${this.statusValue.state}`);
    }
    return this.client;
  }

  /** Checks that a model exists and is usable before asking the router for it. */
  private requireModel(modelId: string): void {
    const invalid = this.models.invalidReason(modelId);
    if (invalid !== undefined) {
      throw new AppError(ErrorCode.MODEL_INVALID, `${modelId}: ${invalid}`);
    }
    const known = this.catalogue?.entries.some((e) => e.id === modelId) || this.models.get(modelId) !== undefined;
    if (!known) {
      throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${modelId}" in ${this.config.modelsDir}`);
    }
  }

  /** Loads a model and resolves once it is `loaded`; reports progress while it loads. */
  async loadModel(modelId: string, onProgress: (state: ModelState) => void): Promise<ModelState> {
    this.requireModel(modelId);
    const client = this.requireRunning();
    const current = this.models.get(modelId);
    if (current?.status === 'loaded' || current?.status === 'sleeping') {
      return current;
    }
    this.tail.clearModel(modelId);
    const listener = (state: ModelState): void => {
      if (state.id === modelId && state.status === 'loading') {
        onProgress(state);
      }
    };
    this.models.on('change', listener);
    try {
      if (current?.status !== 'loading') {
        await this.requestLoad(client, modelId);
      }
      const final = await this.models.waitFor(
        modelId,
        (s) => s.status === 'loaded' || s.status === 'sleeping' || s.status === 'error',
        this.options.loadTimeoutMs ?? 10 * 60_000,
      );
      if (final.status === 'error') {
        throw new AppError(ErrorCode.MODEL_LOAD_FAILED, final.error?.message ?? `${modelId} failed to load`);
      }
      return final;
    } finally {
      this.models.off('change', listener);
    }
  }

  /**
   * POST /models/load. The router answers "model limit reached, try again later" while it is
   * still evicting the least recently used model; that is retried for a while.
   */
  private async requestLoad(client: RouterClient, modelId: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await client.load(modelId);
        return;
      } catch (err) {
        const message = (err as Error).message;
        // Already loading/loaded (e.g. a request autoloaded it): just wait for the outcome.
        if (/already/i.test(message)) {
          return;
        }
        if (!/try again later/i.test(message) || Date.now() > deadline) {
          throw new AppError(ErrorCode.MODEL_LOAD_FAILED, `${modelId}: ${message}`);
        }
        await delay(250);
      }
    }
  }

  async unloadModel(modelId: string): Promise<ModelState> {
    this.requireModel(modelId);
    const client = this.requireRunning();
    const current = this.models.get(modelId);
    if (current === undefined || current.status === 'unloaded' || current.status === 'error') {
      return current ?? this.unloadedState(modelId);
    }
    // Whatever exit code the instance ends with, this stop was asked for (not a crash).
    this.models.expectStop(modelId);
    try {
      await client.unload(modelId);
    } catch (err) {
      throw new AppError(ErrorCode.MODEL_UNLOAD_FAILED, `${modelId}: ${(err as Error).message}`);
    }
    return this.models.waitFor(modelId, (s) => s.status === 'unloaded' || s.status === 'error', this.options.stopGraceMs + 30_000);
  }

  private unloadedState(modelId: string): ModelState {
    return { id: modelId, status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: Date.now() };
  }

  // ---- catalogue, presets ----------------------------------------------------------------

  /** Rescans the models directory; on a change, tells the router to reload its list. */
  async rescan(): Promise<Catalogue> {
    const catalogue = await this.deps.scanner.scan();
    const signature = catalogueSignature(catalogue);
    const changed = signature !== this.catalogueSig;
    this.catalogue = catalogue;
    this.catalogueSig = signature;
    this.parser.setKnownModels([...catalogue.entries.map((e) => e.id), ...this.models.all().map((m) => m.id)]);
    if (changed) {
      this.models.setInvalid(new Map(catalogue.entries.filter((e) => !e.valid).map((e) => [e.id, e.invalidReason ?? 'invalid GGUF'])));
      this.emit('catalogue', catalogue);
      if (this.client !== null && this.statusValue.state === 'running') {
        await this.reconcile(true);
      }
    }
    return catalogue;
  }

  /**
   * Checks a preset against the flag policy and the binary's arguments, writes it and makes the
   * router reread it. Throws ARG_NOT_ALLOWED or PRESET_INVALID before anything is written.
   */
  async applyPreset(preset: PresetDocument): Promise<string> {
    // A custom entry needs a model source; sections named after a catalogue model are overrides.
    this.deps.guard.checkPreset(preset, this.catalogue === null ? null : new Set(this.catalogue.entries.map((e) => e.id)));
    await this.deps.presets.write(preset);
    if (this.client !== null && this.statusValue.state === 'running') {
      await this.reconcile(true);
    }
    return this.deps.presets.path;
  }

  private async readPreset(): Promise<PresetDocument> {
    try {
      return await this.deps.presets.read();
    } catch (err) {
      throw new AppError(ErrorCode.PRESET_INVALID, `the preset file cannot be read: ${(err as Error).message}`);
    }
  }

  /** A configuration with the values that only the environment sets. */
  private withPinned(config: ServerConfig): ServerConfig {
    return { ...config, ...this.pinned };
  }

  // ---- router events ---------------------------------------------------------------------

  private followEvents(client: RouterClient): void {
    const abort = new AbortController();
    this.sseAbort = abort;
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          await client.streamEvents(
            abort.signal,
            (event) => {
              this.models.applyEvent(event);
              if (event.event === 'models_reload') {
                void this.reconcile();
              }
            },
            () => void this.reconcile(),
          );
        } catch (err) {
          if (!abort.signal.aborted) {
            this.log.debug('models/sse disconnected', { error: (err as Error).message });
          }
        }
        if (!abort.signal.aborted) {
          await delay(500);
        }
      }
    })();
  }

  private async reconcile(reload = false): Promise<void> {
    const client = this.client;
    if (client === null) {
      return;
    }
    try {
      const models = await client.listModels(reload);
      this.models.reconcile(models);
      this.parser.setKnownModels([...models.map((m) => m.id), ...(this.catalogue?.entries.map((e) => e.id) ?? [])]);
    } catch (err) {
      this.log.debug('reconcile failed', { error: (err as Error).message });
    }
  }

  private onLine(line: string): void {
    const parsed = this.parser.parse(line);
    if (parsed.message.length === 0) {
      return;
    }
    this.tail.push(parsed);
    if (parsed.stopping === true && parsed.modelId !== null) {
      this.models.expectStop(parsed.modelId);
    }
    this.emit('log', {
      ts: Date.now(),
      level: parsed.level,
      source: 'llama-server',
      nodeId: this.options.nodeId,
      modelId: parsed.modelId,
      message: parsed.message.slice(0, 16_000),
    });
  }

  private setStatus(patch: Partial<LlamaStatus>): void {
    this.statusValue = { ...this.statusValue, ...patch, updatedAt: Date.now() };
    this.emit('status', this.statusValue);
  }
}

/** Where to reach a server bound to `host` from this machine. */
function connectHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
