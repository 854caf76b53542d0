import { AppError, ErrorCode, JobName, type ErrorInfo, type PlacementMode } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { JobService } from './job.service.js';
import { ApiError } from './openai-proxy.service.js';

export interface OnDemandLoadDeps {
  jobs: Pick<JobService, 'submit' | 'outcome'>;
  /**
   * The node's placement mode from its memory report; null before the first (a supervisor that
   * has not reported yet, or none with placement).
   */
  mode: () => PlacementMode | null;
  /**
   * The model's status as the router reports it (`loaded`, `unloaded`, ...; null when unknown):
   * from a short-lived cache, or asked anew with `fresh` (this step always asks anew).
   */
  status: (modelId: string, fresh: boolean) => Promise<string | null>;
  /** Longest wait for a load (ms); beyond it the request fails with 503 and the load goes on. */
  waitMs: number;
  logger: Logger;
}

/** Statuses in which the router serves a request for the model at once. */
const SERVING = new Set(['loaded', 'sleeping']);

/**
 * The `/v1` endpoint's "ensure loaded" step (issue #14). With memory-aware placement the router's
 * autoload is off, so a request for a model that is not loaded queues the ordinary `models:load`
 * control job (the supervisor makes room for it, or refuses with INSUFFICIENT_MEMORY) and waits,
 * bounded, for its outcome before it is forwarded. Concurrent requests for one model share one
 * wait on this replica, and one job across replicas (the job ids are deduplicated by intent).
 * With `PLACEMENT=count` it does nothing: the router loads on its own as before. Before the node's
 * first memory report the mode is unknown: the load is tried the same way, and when no supervisor
 * takes it the request is forwarded as it is (the router decides, as before placement).
 */
export class OnDemandLoad {
  private readonly deps: OnDemandLoadDeps;
  private readonly log: Logger;
  private readonly pending = new Map<string, Promise<void>>();

  constructor(deps: OnDemandLoadDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'on-demand-load' });
  }

  /**
   * Resolves once `modelId` can be served. Throws an ApiError in OpenAI's shape: 503
   * `insufficient_memory` (the message says what it needs, what is free and what holds the rest),
   * 503 `model_load_timeout` / `service_unavailable`, 500 `model_load_failed` with the cause.
   */
  async ensureLoaded(modelId: string): Promise<void> {
    const mode = this.deps.mode();
    if (mode === 'count') {
      return;
    }
    // Asked fresh: a model evicted a moment ago (for another model's load) must not look loaded.
    if (SERVING.has((await this.deps.status(modelId, true)) ?? '')) {
      return;
    }
    let wait = this.pending.get(modelId);
    if (wait === undefined) {
      wait = this.load(modelId).finally(() => this.pending.delete(modelId));
      this.pending.set(modelId, wait);
    }
    try {
      await wait;
    } catch (err) {
      if (mode === null && err instanceof ApiError && err.code === 'service_unavailable') {
        this.log.debug('no supervisor took the load; forwarding as is', { modelId });
        return;
      }
      throw err;
    }
  }

  /**
   * The fast path of `ensureLoaded` for each `/v1` request: trusts the router's model list as the
   * proxy caches it (up to 1 s, no request to the router) and resolves `true` when it says the
   * model is served; the caller then forwards with `autoload=false`, and should the router answer
   * that the model is not loaded (unloaded a moment ago), calls `ensureLoaded` and forwards again.
   * Otherwise runs `ensureLoaded` (asks fresh, loads when needed) and resolves `false`; with
   * `PLACEMENT=count` resolves `false` at once (the router loads on its own).
   */
  async ensureLoadedCached(modelId: string): Promise<boolean> {
    if (this.deps.mode() === 'count') {
      return false;
    }
    if (SERVING.has((await this.deps.status(modelId, false)) ?? '')) {
      return true;
    }
    await this.ensureLoaded(modelId);
    return false;
  }

  /** Requests for which a load is being waited for now, by model (for tests and logs). */
  waiting(): string[] {
    return [...this.pending.keys()];
  }

  private async load(modelId: string): Promise<void> {
    let jobId: string;
    try {
      jobId = (await this.deps.jobs.submit(JobName.modelLoad, { modelId }, `load on demand (/v1): ${modelId}`, modelId)).jobId;
    } catch (err) {
      throw toApiError(modelId, err instanceof AppError ? { code: err.code, message: err.message } : { code: ErrorCode.INTERNAL, message: 'the load could not be queued' });
    }
    this.log.info('loading a model on demand', { modelId, jobId });
    const outcome = await this.deps.jobs.outcome(jobId, this.deps.waitMs);
    if (outcome.state === 'failed') {
      this.log.warn('on-demand load failed', { modelId, jobId, code: outcome.error.code, error: outcome.error.message });
      throw toApiError(modelId, outcome.error);
    }
  }
}

/** A failed load as the `/v1` caller sees it. */
export function toApiError(modelId: string, error: ErrorInfo): ApiError {
  if (error.code === ErrorCode.INSUFFICIENT_MEMORY) {
    return new ApiError(503, 'insufficient_memory', `the model "${modelId}" cannot be loaded: ${error.message}`, { param: 'model' });
  }
  if (error.code === ErrorCode.TIMEOUT) {
    return new ApiError(503, 'model_load_timeout', `the model "${modelId}" is still loading (${error.message}); try again shortly`, { retryAfterSec: 5 });
  }
  if (error.code === ErrorCode.SUPERVISOR_UNAVAILABLE || error.code === ErrorCode.QUEUE_UNAVAILABLE) {
    return new ApiError(503, 'service_unavailable', `the model "${modelId}" is not loaded and cannot be loaded now: ${error.message}`, { retryAfterSec: 5 });
  }
  return new ApiError(500, 'model_load_failed', `the model "${modelId}" could not be loaded: ${error.message}`, { param: 'model' });
}
