import { AppError, ErrorCode, type ModelState } from '@llamaproxy/shared';
import type { CatalogueService } from './catalogue-service.js';
import type { LlamaLifecycle } from './llama-lifecycle.js';
import type { LlamaOutput } from './llama-output.js';
import type { ModelStates } from './model-states.js';
import type { LoadTicket } from './placement/placement-service.js';
import type { Clock, RouterApi } from './supervisor-ports.js';

export interface ModelControlOptions {
  /** Named in the error for a model that is not there. */
  modelsDir: string;
  /** How long a model may take to load before the job gives up. */
  loadTimeoutMs?: number;
  /** How long an unload may take once the router accepted it. */
  unloadTimeoutMs: number;
  /** How long "model limit reached, try again later" is retried while the router evicts. */
  loadRetryMs?: number;
  loadRetryDelayMs?: number;
}

export interface ModelControlDeps {
  models: ModelStates;
  /** The running router, or LLAMA_NOT_RUNNING. */
  router: Pick<LlamaLifecycle, 'runningClient'>;
  catalogue: Pick<CatalogueService, 'has'>;
  output: Pick<LlamaOutput, 'clearModel'>;
  clock: Clock;
  /** Memory-aware placement: makes room before a load (or refuses it with INSUFFICIENT_MEMORY). */
  placement?: { beforeLoad(modelId: string): Promise<LoadTicket> };
}

const isSettledLoad = (s: ModelState): boolean => s.status === 'loaded' || s.status === 'sleeping' || s.status === 'error';

/**
 * Loads and unloads models through the router and waits for the outcome. Idempotent, so that a
 * retried or twice-run job does no harm: a load of a loaded model and an unload of a model that
 * is not loaded succeed at once, without asking the router.
 */
export class ModelControl {
  private readonly options: Required<ModelControlOptions>;
  private readonly deps: ModelControlDeps;

  constructor(options: ModelControlOptions, deps: ModelControlDeps) {
    this.options = {
      ...options,
      loadTimeoutMs: options.loadTimeoutMs ?? 10 * 60_000,
      loadRetryMs: options.loadRetryMs ?? 30_000,
      loadRetryDelayMs: options.loadRetryDelayMs ?? 250,
    };
    this.deps = deps;
  }

  /** Loads a model and resolves once it is `loaded`; reports progress while it loads. */
  async loadModel(modelId: string, onProgress: (state: ModelState) => void): Promise<ModelState> {
    this.requireModel(modelId);
    const { models } = this.deps;
    const current = models.get(modelId);
    if (current?.status === 'loaded' || current?.status === 'sleeping') {
      return current;
    }
    const client = this.deps.router.runningClient();
    this.deps.output.clearModel(modelId);
    const listener = (state: ModelState): void => {
      if (state.id === modelId && state.status === 'loading') {
        onProgress(state);
      }
    };
    models.on('change', listener);
    let ticket: LoadTicket | undefined;
    try {
      if (current?.status !== 'loading') {
        ticket = await this.deps.placement?.beforeLoad(modelId);
        await this.requestLoad(client, modelId);
      }
      const final = await models.waitFor(modelId, isSettledLoad, this.options.loadTimeoutMs);
      if (final.status === 'error') {
        throw new AppError(ErrorCode.MODEL_LOAD_FAILED, final.error?.message ?? `${modelId} failed to load`);
      }
      return final;
    } finally {
      ticket?.settled();
      models.off('change', listener);
    }
  }

  /** Unloads a model and resolves once it is `unloaded` (or `error`, when it was one already). */
  async unloadModel(modelId: string): Promise<ModelState> {
    this.requireModel(modelId);
    const { models } = this.deps;
    const current = models.get(modelId);
    if (current === undefined || current.status === 'unloaded' || current.status === 'error') {
      return current ?? this.unloadedState(modelId);
    }
    const client = this.deps.router.runningClient();
    // Whatever exit code the instance ends with, this stop was asked for (not a crash).
    models.expectStop(modelId);
    try {
      await client.unload(modelId);
    } catch (err) {
      throw new AppError(ErrorCode.MODEL_UNLOAD_FAILED, `${modelId}: ${(err as Error).message}`);
    }
    return models.waitFor(modelId, (s) => s.status === 'unloaded' || s.status === 'error', this.options.unloadTimeoutMs);
  }

  /** Checks that a model exists and is usable before asking the router for it. */
  private requireModel(modelId: string): void {
    const invalid = this.deps.models.invalidReason(modelId);
    if (invalid !== undefined) {
      throw new AppError(ErrorCode.MODEL_INVALID, `${modelId}: ${invalid}`);
    }
    if (!this.deps.catalogue.has(modelId) && this.deps.models.get(modelId) === undefined) {
      throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${modelId}" in ${this.options.modelsDir}`);
    }
  }

  /**
   * POST /models/load. The router answers "model limit reached, try again later" while it is
   * still evicting the least recently used model; that is retried for a while.
   */
  private async requestLoad(client: RouterApi, modelId: string): Promise<void> {
    const { clock } = this.deps;
    const deadline = clock.now() + this.options.loadRetryMs;
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
        if (!/try again later/i.test(message) || clock.now() > deadline) {
          throw new AppError(ErrorCode.MODEL_LOAD_FAILED, `${modelId}: ${message}`);
        }
        await clock.sleep(this.options.loadRetryDelayMs);
      }
    }
  }

  private unloadedState(modelId: string): ModelState {
    return { id: modelId, status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: this.deps.clock.now() };
  }
}
