import type { Logger } from '@llamaproxy/shared/node';
import type { LlamaOutput } from './llama-output.js';
import type { ModelStates } from './model-states.js';
import type { Clock, RouterApi } from './supervisor-ports.js';

export interface RouterSyncOptions {
  /** How often `GET /models` is compared with what the events said. */
  reconcileIntervalMs: number;
  /** How long to wait before reopening `/models/sse` after it dropped. */
  reconnectDelayMs?: number;
  /**
   * The periodic reconcile waits at least this many times as long as the last one took (default
   * 20: at most 5 % of the time). `GET /models` of 5,000 models is 2.8 MB and takes the router
   * and this process about a second each; every 5 s that would be a steady load for a safety net.
   */
  reconcileCostFactor?: number;
}

export interface RouterSyncDeps {
  models: Pick<ModelStates, 'applyEvent' | 'reconcile'>;
  output: Pick<LlamaOutput, 'knowModels'>;
  clock: Clock;
  logger: Logger;
}

/**
 * Keeps `ModelStates` true to a running router: follows `/models/sse` (reopening it when it
 * drops) and reconciles with `GET /models` whenever the stream (re)opens, when the router reloads
 * its list, and every `reconcileIntervalMs` (longer for a list that is slow to read) in case an
 * event was missed.
 */
export class RouterSync {
  private readonly options: Required<RouterSyncOptions>;
  private readonly deps: RouterSyncDeps;
  private readonly log: Logger;
  private client: RouterApi | null = null;
  private abort: AbortController | null = null;
  private cancelInterval: (() => void) | null = null;
  /** The reconcile in progress, one asked for meanwhile, and the run that answers it. */
  private running: Promise<void> | null = null;
  private again: { reload: boolean } | null = null;
  private trailing: Promise<void> | null = null;

  constructor(options: RouterSyncOptions, deps: RouterSyncDeps) {
    this.options = { ...options, reconnectDelayMs: options.reconnectDelayMs ?? 500, reconcileCostFactor: options.reconcileCostFactor ?? 20 };
    this.deps = deps;
    this.log = deps.logger.child({ module: 'router-sync' });
  }

  /** Whether a router is being followed (llama-server is running). */
  get following(): boolean {
    return this.client !== null;
  }

  /** Starts following `client`'s router; resolves after the first reconcile. */
  async follow(client: RouterApi): Promise<void> {
    this.detach();
    this.client = client;
    const abort = new AbortController();
    this.abort = abort;
    void this.streamUntil(client, abort.signal);
    const started = this.deps.clock.now();
    await this.reconcile();
    if (this.client === client) {
      this.schedule(client, this.deps.clock.now() - started);
    }
  }

  /**
   * The next periodic reconcile: after `reconcileIntervalMs`, or `reconcileCostFactor` times the
   * last one's duration when that is longer (a large models directory).
   */
  private schedule(client: RouterApi, lastMs: number): void {
    const waitMs = Math.max(this.options.reconcileIntervalMs, lastMs * this.options.reconcileCostFactor);
    this.cancelInterval?.();
    this.cancelInterval = this.deps.clock.after(waitMs, () => {
      const started = this.deps.clock.now();
      void this.reconcile().then(() => {
        if (this.client === client) {
          this.schedule(client, this.deps.clock.now() - started);
        }
      });
    });
  }

  /** Stops following (the process is stopping or gone): closes the stream, stops the timer. */
  detach(): void {
    this.client = null;
    this.abort?.abort();
    this.abort = null;
    this.cancelInterval?.();
    this.cancelInterval = null;
  }

  /** Makes the router reread its models directory and preset, then reconciles; a no-op when not following. */
  async reload(): Promise<void> {
    await this.reconcile(true);
  }

  /**
   * `GET /models` into `ModelStates`; failures are logged, the next reconcile corrects them. One
   * runs at a time: asked while one runs, it runs once more after it (a list of thousands is
   * megabytes; two at once, as at start when the stream opens, only slow both down).
   */
  reconcile(reload = false): Promise<void> {
    if (this.running !== null) {
      this.again = { reload: (this.again?.reload ?? false) || reload };
      return this.running.then(() => this.trailing ?? Promise.resolve());
    }
    const run = this.reconcileOnce(reload).finally(() => {
      this.running = null;
      const again = this.again;
      this.again = null;
      this.trailing = again === null ? null : this.reconcile(again.reload);
    });
    this.running = run;
    return run;
  }

  private async reconcileOnce(reload: boolean): Promise<void> {
    const client = this.client;
    if (client === null) {
      return;
    }
    try {
      const models = await client.listModels(reload);
      this.deps.models.reconcile(models);
      this.deps.output.knowModels('router', models.map((m) => m.id));
    } catch (err) {
      this.log.debug('reconcile failed', { error: (err as Error).message });
    }
  }

  private async streamUntil(client: RouterApi, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await client.streamEvents(
          signal,
          (event) => {
            this.deps.models.applyEvent(event);
            if (event.event === 'models_reload') {
              void this.reconcile();
            }
          },
          () => void this.reconcile(),
        );
      } catch (err) {
        if (!signal.aborted) {
          this.log.debug('models/sse disconnected', { error: (err as Error).message });
        }
      }
      if (!signal.aborted) {
        await this.deps.clock.sleep(this.options.reconnectDelayMs);
      }
    }
  }
}
