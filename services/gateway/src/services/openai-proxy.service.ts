import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { OpenAiErrorType, type OpenAiErrorBody } from '@llamaproxy/shared';
import { UpstreamUnavailable, type UpstreamModel } from '../repositories/llama-upstream.js';
import { ModelSlots } from '../repositories/model-slots.js';
import type { ApiPrincipal } from './api-keys.service.js';

/** An answer of the `/v1` endpoint that is not the router's: an HTTP status in OpenAI's error shape. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: keyof typeof OpenAiErrorType;
  readonly code: string;
  readonly param: string | null;
  readonly retryAfterSec: number | null;

  constructor(status: keyof typeof OpenAiErrorType, code: string, message: string, options: { param?: string; retryAfterSec?: number } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = options.param ?? null;
    this.retryAfterSec = options.retryAfterSec ?? null;
  }

  body(): OpenAiErrorBody {
    return { error: { message: this.message, type: OpenAiErrorType[this.status], param: this.param, code: this.code } };
  }
}

/** How the endpoint admits requests. */
export interface ProxyLimits {
  /** Requests per model across every replica (per replica while Redis is away), waiting and running together; beyond, 429. */
  modelConcurrency: number;
  /** How long the router's model list is reused. */
  modelsCacheMs: number;
}

export interface OpenAiProxyDeps {
  listModels: () => Promise<UpstreamModel[]>;
  redis: Redis;
  limits: ProxyLimits;
  now?: () => number;
  /** Told why the router could not be asked (the log). */
  onUnavailable?: (err: Error) => void;
}

/** What `admit` hands back: call `release` once the request has ended, with the tokens it used. */
export interface Admission {
  release(tokens: number): void;
}

/**
 * The rules of the `/v1` endpoint, apart from the HTTP plumbing: which models a caller sees and
 * may use, the per-model concurrency cap (shared by the replicas in Redis, model-slots.ts), and each key's request and token rate limits
 * (rate-limiter-flexible on Redis, so replicas share one budget per key; per replica from memory
 * while Redis is away). Tokens are counted after a response (only then are they known), so a key
 * over its token budget is refused from its next request on.
 */
export class OpenAiProxy {
  private readonly deps: OpenAiProxyDeps;
  private readonly now: () => number;
  private cache: { at: number; models: UpstreamModel[] } | null = null;
  /** The per-model cap, counted across replicas in Redis (model-slots.ts). */
  private readonly slots: ModelSlots;
  private readonly limiters = new Map<string, RateLimiterRedis>();

  constructor(deps: OpenAiProxyDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.slots = new ModelSlots(deps.redis, deps.limits.modelConcurrency);
  }

  /** The router's models that `principal` may use (the list answers `/v1/models`). */
  async models(principal: ApiPrincipal): Promise<UpstreamModel[]> {
    const all = await this.routerModels();
    return principal.models === null ? all : all.filter((m) => principal.models!.includes(m.id));
  }

  /**
   * Checks a request for `model`: in the key's scope (403), known to the router (404), within the
   * key's limits and the model's concurrency (429). Resolves with the admission to release.
   */
  async admit(principal: ApiPrincipal, model: string): Promise<Admission> {
    if (principal.models !== null && !principal.models.includes(model)) {
      throw new ApiError(403, 'model_not_allowed', `this key may not use the model "${model}"`, { param: 'model' });
    }
    let known = (await this.routerModels()).some((m) => m.id === model);
    if (!known) {
      // A model added a moment ago: ask once more before saying it does not exist.
      known = (await this.routerModels(true)).some((m) => m.id === model);
    }
    if (!known) {
      throw new ApiError(404, 'model_not_found', `the model "${model}" does not exist`, { param: 'model' });
    }
    const { requestsPerMinute, tokensPerMinute } = principal.limits;
    const id = principal.keyId;
    if (id !== null && tokensPerMinute !== null) {
      const used = await this.limiter('tokens', tokensPerMinute).get(id);
      if (used !== null && used.consumedPoints >= tokensPerMinute) {
        throw new ApiError(429, 'rate_limit_exceeded', `this key used its ${tokensPerMinute} tokens per minute`, { retryAfterSec: Math.ceil(used.msBeforeNext / 1000) });
      }
    }
    if (id !== null && requestsPerMinute !== null) {
      try {
        await this.limiter('requests', requestsPerMinute).consume(id);
      } catch (err) {
        if (err instanceof RateLimiterRes) {
          throw new ApiError(429, 'rate_limit_exceeded', `this key may send ${requestsPerMinute} requests per minute`, { retryAfterSec: Math.ceil(err.msBeforeNext / 1000) });
        }
        throw err;
      }
    }
    const slot = await this.slots.acquire(model);
    if (!('release' in slot)) {
      throw new ApiError(429, 'model_busy', `the model "${model}" has ${slot.held} requests waiting or running; try again shortly`, { retryAfterSec: 1 });
    }
    let released = false;
    return {
      release: (tokens) => {
        if (released) {
          return;
        }
        released = true;
        slot.release();
        if (id !== null && tokensPerMinute !== null && tokens > 0) {
          void this.limiter('tokens', tokensPerMinute).penalty(id, tokens).catch(() => undefined);
        }
      },
    };
  }

  /** The router's status of `model` (`loaded`, `unloaded`, ...), from the cached list unless `fresh`; null when it does not list it. */
  async modelStatus(model: string, fresh = false): Promise<string | null> {
    return (await this.routerModels(fresh)).find((m) => m.id === model)?.status ?? null;
  }

  /** Requests now waiting or running for a model on this replica. */
  inFlightFor(model: string): number {
    return this.slots.heldHere(model);
  }

  private async routerModels(fresh = false): Promise<UpstreamModel[]> {
    const now = this.now();
    if (!fresh && this.cache !== null && now - this.cache.at < this.deps.limits.modelsCacheMs) {
      return this.cache.models;
    }
    try {
      const models = await this.deps.listModels();
      this.cache = { at: now, models };
      return models;
    } catch (err) {
      if (err instanceof UpstreamUnavailable || (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') {
        this.deps.onUnavailable?.(err as Error);
        throw new ApiError(503, 'service_unavailable', 'no llama-server can serve this request now (the router does not answer)');
      }
      throw err;
    }
  }

  /** One limiter per kind and budget (keys with the same budget share the limiter object, not the count). */
  private limiter(kind: 'requests' | 'tokens', points: number): RateLimiterRedis {
    const name = `${kind}:${points}`;
    let limiter = this.limiters.get(name);
    if (limiter === undefined) {
      const keyPrefix = `llamaproxy:api:${kind}:${points}`;
      limiter = new RateLimiterRedis({
        storeClient: this.deps.redis,
        useRedisPackage: false,
        keyPrefix,
        points,
        duration: 60,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: 60 }),
      });
      this.limiters.set(name, limiter);
    }
    return limiter;
  }
}
