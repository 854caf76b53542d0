import { EventEmitter } from 'node:events';
import { AppError, ErrorCode, redactSecrets, type LlamaStatus } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import { explainFailure } from './llama-log.js';
import type { LlamaOutput } from './llama-output.js';
import type { ModelStates } from './model-states.js';
import type { RouterSync } from './router-sync.js';
import type { Clock, ManagedProcess, RouterApi } from './supervisor-ports.js';

export interface LifecycleOptions {
  nodeId: string;
  startTimeoutMs: number;
  stopGraceMs: number;
  backoff: { minMs: number; maxMs: number };
  /** A process that stays up this long before it crashes starts the backoff over. */
  stableAfterMs?: number;
  /** How often `/health` is polled while llama-server starts. */
  healthPollMs?: number;
}

/** How to start llama-server now: its arguments and where its router will answer. */
export interface LaunchPlan {
  args: string[];
  url: string;
}

export interface LifecycleDeps {
  /** The arguments to start with, after the flag policy allowed them; throws when it does not. */
  plan: () => Promise<LaunchPlan>;
  spawn: (args: string[]) => ManagedProcess;
  /** A client for the router at `url`. */
  connect: (url: string) => RouterApi;
  output: Pick<LlamaOutput, 'push' | 'reset' | 'lines'>;
  sync: Pick<RouterSync, 'follow' | 'detach'>;
  models: Pick<ModelStates, 'routerStarted' | 'resetAll'>;
  clock: Clock;
  logger: Logger;
}

/** The unlocked steps, for a caller that holds the lifecycle lock (see `exclusive`). */
export interface LifecycleSteps {
  start(): Promise<LlamaStatus>;
  stop(): Promise<LlamaStatus>;
  /** Whether a process is owned now (starting or running). */
  readonly running: boolean;
}

interface LifecycleEvents {
  status: [status: LlamaStatus];
}

/** The wait before restart number `crashes + 1`: doubling from `minMs`, capped at `maxMs`. */
export function backoffMs(backoff: { minMs: number; maxMs: number }, crashes: number): number {
  return Math.min(backoff.maxMs, backoff.minMs * 2 ** crashes);
}

/**
 * Owns the llama-server process: spawns it, waits until its router answers `/health` (with a
 * deadline), stops it with SIGTERM then SIGKILL, and restarts it with capped backoff after a crash.
 * Start, stop and restart never interleave. Emits `status` on every change.
 */
export class LlamaLifecycle extends EventEmitter<LifecycleEvents> {
  private readonly options: Required<LifecycleOptions>;
  private readonly deps: LifecycleDeps;
  private readonly log: Logger;
  private proc: ManagedProcess | null = null;
  private client: RouterApi | null = null;
  private cancelRestart: (() => void) | null = null;
  private crashCount = 0;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private statusValue: LlamaStatus;
  private readonly steps: LifecycleSteps;

  constructor(options: LifecycleOptions, deps: LifecycleDeps) {
    super();
    this.options = { ...options, stableAfterMs: options.stableAfterMs ?? 60_000, healthPollMs: options.healthPollMs ?? 100 };
    this.deps = deps;
    this.log = deps.logger.child({ module: 'llama-lifecycle' });
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
      updatedAt: deps.clock.now(),
    };
    const owns = (): boolean => this.proc !== null;
    this.steps = {
      start: () => this.doStart(),
      stop: () => this.doStop(),
      get running() {
        return owns();
      },
    };
  }

  get status(): LlamaStatus {
    return this.statusValue;
  }

  /** The running router's client; throws LLAMA_NOT_RUNNING unless llama-server is running. */
  runningClient(): RouterApi {
    if (this.client === null || this.statusValue.state !== 'running') {
      throw new AppError(ErrorCode.LLAMA_NOT_RUNNING, `llama-server is ${this.statusValue.state}`);
    }
    return this.client;
  }

  /** Runs `fn` with the start/stop steps, after and before every other lifecycle operation. */
  exclusive<T>(fn: (steps: LifecycleSteps) => Promise<T>): Promise<T> {
    const run = (): Promise<T> => fn(this.steps);
    const result = this.lock.then(run, run);
    this.lock = result.catch(() => undefined);
    return result;
  }

  /** Starts llama-server; resolves once its router answers (at once when it is running). */
  start(): Promise<LlamaStatus> {
    return this.exclusive((steps) => steps.start());
  }

  stop(): Promise<LlamaStatus> {
    return this.exclusive((steps) => steps.stop());
  }

  restart(): Promise<LlamaStatus> {
    return this.exclusive(async (steps) => {
      await steps.stop();
      return steps.start();
    });
  }

  /** Stops llama-server for good (shutdown): no restart is scheduled after this. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearRestart();
    await this.exclusive((steps) => steps.stop());
  }

  private async doStart(): Promise<LlamaStatus> {
    if (this.closed) {
      throw new AppError(ErrorCode.LLAMA_NOT_RUNNING, 'supervisor is shutting down');
    }
    if (this.proc !== null && this.statusValue.state === 'running') {
      return this.statusValue;
    }
    this.clearRestart();
    const { args, url } = await this.deps.plan();
    const { clock } = this.deps;
    this.deps.output.reset();
    this.deps.models.routerStarted();
    const proc = this.deps.spawn(args);
    this.proc = proc;
    const client = this.deps.connect(url);
    this.client = client;
    const startedAt = clock.now();
    // Shown in the dashboard and kept in the database: secret flags' values never leave here.
    this.setStatus({ state: 'starting', pid: proc.pid, url, startedAt, args: redactSecrets(args) as string[], nextRestartAt: null });
    this.log.info('starting llama-server', { pid: proc.pid, url });

    proc.on('line', (line) => this.deps.output.push(line));
    let ready = false;
    proc.once('exit', (exit) => {
      if (this.proc === proc) {
        this.onExit(exit.code, exit.signal, ready);
      }
    });

    const deadline = startedAt + this.options.startTimeoutMs;
    while (!(await client.health())) {
      if (!proc.running) {
        const reason = explainFailure(this.deps.output.lines(20)) ?? 'no output';
        throw new AppError(ErrorCode.LLAMA_START_FAILED, `llama-server exited during start-up: ${reason}`);
      }
      if (clock.now() > deadline) {
        await proc.stop(this.options.stopGraceMs);
        throw new AppError(ErrorCode.LLAMA_START_FAILED, `llama-server did not become healthy within ${this.options.startTimeoutMs} ms`);
      }
      await clock.sleep(this.options.healthPollMs);
    }
    ready = true;
    this.setStatus({ state: 'running' });
    this.log.info('llama-server is ready', { pid: proc.pid, ms: clock.now() - startedAt });
    await this.deps.sync.follow(client);
    return this.statusValue;
  }

  private async doStop(): Promise<LlamaStatus> {
    this.clearRestart();
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
    this.deps.models.resetAll(new AppError(ErrorCode.LLAMA_NOT_RUNNING, 'llama-server was stopped'));
    this.setStatus({
      state: 'stopped',
      pid: null,
      lastExit: { code: exit.code, signal: exit.signal, at: this.deps.clock.now(), logTail: this.deps.output.lines(10) },
    });
    this.log.info('llama-server stopped', { code: exit.code, signal: exit.signal });
    return this.statusValue;
  }

  /** Stops following the current process (router sync) without killing it. */
  private detach(): void {
    this.proc = null;
    this.deps.sync.detach();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, wasReady: boolean): void {
    const now = this.deps.clock.now();
    const lastExit = { code, signal, at: now, logTail: this.deps.output.lines(15) };
    const uptime = now - (this.statusValue.startedAt ?? now);
    this.detach();
    this.deps.models.resetAll(new AppError(ErrorCode.LLAMA_CRASHED, `llama-server exited unexpectedly (${signal ?? `code ${code}`})`));
    if (!wasReady) {
      // The start-up path reports this failure itself.
      this.setStatus({ state: 'failed', pid: null, lastExit });
      return;
    }
    if (uptime > this.options.stableAfterMs) {
      this.crashCount = 0;
    }
    const waitMs = this.nextBackoff();
    this.log.error('llama-server crashed; restarting', { code, signal, restartInMs: waitMs });
    this.setStatus({ state: 'crashed', pid: null, lastExit, nextRestartAt: now + waitMs, restarts: this.statusValue.restarts + 1 });
    this.scheduleRestart(waitMs);
  }

  private nextBackoff(): number {
    const waitMs = backoffMs(this.options.backoff, this.crashCount);
    this.crashCount++;
    return waitMs;
  }

  private scheduleRestart(waitMs: number): void {
    this.clearRestart();
    this.cancelRestart = this.deps.clock.after(waitMs, () => {
      this.cancelRestart = null;
      void this.exclusive((steps) => steps.start()).catch((err: unknown) => {
        const next = this.nextBackoff();
        this.log.error('restart failed', { error: (err as Error).message, retryInMs: next });
        this.setStatus({ state: 'crashed', nextRestartAt: this.deps.clock.now() + next });
        this.scheduleRestart(next);
      });
    });
  }

  private clearRestart(): void {
    this.cancelRestart?.();
    this.cancelRestart = null;
  }

  private setStatus(patch: Partial<LlamaStatus>): void {
    this.statusValue = { ...this.statusValue, ...patch, updatedAt: this.deps.clock.now() };
    this.emit('status', this.statusValue);
  }
}
