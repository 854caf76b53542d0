import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import { OPENAI_ENDPOINTS, roleAllows, type ActivityRecord } from '@llamaproxy/shared';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import { UpstreamUnavailable, type LlamaUpstream, type UpstreamResponse } from '../repositories/llama-upstream.js';
import type { CaptureRepository } from '../repositories/capture.repository.js';
import type { ApiActivityWriter } from '../services/api-activity-writer.js';
import { CaptureBuffer } from '../services/capture-buffer.js';
import type { ApiKeysService, ApiPrincipal } from '../services/api-keys.service.js';
import type { ApiMetrics } from '../services/api-metrics.js';
import type { AuthService, RequestOrigin } from '../services/auth.service.js';
import { ApiError, type OpenAiProxy } from '../services/openai-proxy.service.js';
import { originAllowed } from '../services/origin-policy.js';
import { UsageTap } from '../services/usage-tap.js';

export interface OpenAiRouterDeps {
  auth: Pick<AuthService, 'resolve' | 'requestHost' | 'clientAddress'>;
  keys: Pick<ApiKeysService, 'authenticate'>;
  proxy: OpenAiProxy;
  upstream: Pick<LlamaUpstream, 'forward'>;
  activity: Pick<ApiActivityWriter, 'add'>;
  metrics: Pick<ApiMetrics, 'observe'>;
  /** The capture buffer's settings (read per request, so an admin's change holds at once on every replica). */
  capture?: Pick<CaptureRepository, 'settings'>;
  allowedOrigins: readonly string[];
  bodyLimitBytes: number;
  logger: Logger;
  /**
   * Memory-aware placement (#14): resolves once the model can be served (loads it on demand
   * through the supervisor) or throws an ApiError; absent = forward at once. With `cached`, the
   * model list cached by the proxy may answer: resolves `true` when it did (the request then goes
   * with `autoload=false`, and is forwarded again after a fresh check should the router say the
   * model is not loaded); `false` once the router was asked (or there is nothing to check).
   */
  ensureLoaded?: (model: string, cached: boolean) => Promise<boolean>;
  /** Placement's recency feed: marks a model as really used (returns at once). */
  markUsed?: (model: string) => void;
}

/** Response headers passed from the router to the client (hop-by-hop ones are not). */
const PASSED_HEADERS = ['content-type', 'content-length', 'cache-control'];
/** The router's 400 for a model that is not running when autoload is off (server-models.cpp). */
const NOT_LOADED_MESSAGE = 'model is not loaded';
/** A 400 body read whole to see whether it is that one (the router's error bodies are small). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Per-request bookkeeping for the activity record. */
interface Trace {
  ts: number;
  start: number;
  principal: ApiPrincipal | null;
  model: string | null;
  endpoint: string;
  stream: boolean;
  address: string;
}

/**
 * `/v1/*`: the OpenAI-compatible endpoint on the dashboard's origin, forwarded to llama-server's
 * router. A caller is a key (`Authorization: Bearer`, or `x-api-key` as Anthropic's clients send
 * it) or a dashboard session (the playground; then the Origin must be the dashboard's, as for
 * every other cookie-authenticated call). The router's answer streams through untouched, chunk by
 * chunk with backpressure; a client that goes away aborts the upstream request. Every request,
 * refused ones too, becomes one activity record (never its prompt or output, unless an admin
 * turned the capture buffer on: then those go to the capture table, bounded, never to a log).
 */
export function createOpenAiRouter(deps: OpenAiRouterDeps): Router {
  const { auth, keys, proxy, upstream, activity, metrics } = deps;
  const log = deps.logger.child({ module: 'openai' });
  const router = express.Router();

  const originOf = (req: Request): RequestOrigin => ({ headers: req.headers, peer: req.socket.remoteAddress ?? '' });

  const record = (trace: Trace, status: number, extra: Partial<Omit<ActivityRecord, 'id'>> = {}, captured?: CaptureBuffer): void => {
    const entry: Omit<ActivityRecord, 'id'> = {
      ts: trace.ts,
      keyId: trace.principal?.keyId ?? null,
      keyName: trace.principal?.keyName ?? null,
      userId: trace.principal?.userId ?? null,
      username: trace.principal?.username ?? null,
      model: trace.model,
      endpoint: trace.endpoint,
      status,
      stream: trace.stream,
      promptTokens: null,
      cachedTokens: null,
      completionTokens: null,
      ttftMs: null,
      tokensPerSec: null,
      durationMs: performance.now() - trace.start,
      address: trace.address,
      error: null,
      ...extra,
    };
    activity.add(entry, captured?.result());
    metrics.observe(entry);
  };

  const fail = (res: Response, trace: Trace, err: ApiError): void => {
    record(trace, err.status, { error: err.code });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err.retryAfterSec !== null) {
      res.setHeader('Retry-After', String(Math.max(1, err.retryAfterSec)));
    }
    res.status(err.status).json(err.body());
  };

  const toApiError = (err: unknown): ApiError => {
    if (err instanceof ApiError) {
      return err;
    }
    if (err instanceof UpstreamUnavailable) {
      log.warn('llama-server did not answer', { error: err.message });
      return new ApiError(503, 'service_unavailable', 'no llama-server can serve this request now (the router does not answer)');
    }
    log.error('v1 request failed', errorMeta(err));
    return new ApiError(500, 'internal_error', 'Internal error');
  };

  /** Who is calling: a key, else the session (with the Origin check); 401/403 otherwise. */
  const authenticate = async (req: Request): Promise<ApiPrincipal> => {
    const header = req.headers.authorization;
    const bearer = typeof header === 'string' && /^Bearer\s+/i.test(header) ? header.replace(/^Bearer\s+/i, '').trim() : null;
    const apiKey = typeof req.headers['x-api-key'] === 'string' ? req.headers['x-api-key'].trim() : null;
    const secret = bearer ?? apiKey;
    if (secret !== null && secret !== '') {
      const principal = keys.authenticate(secret);
      if (principal === null) {
        throw new ApiError(401, 'invalid_api_key', 'the API key is not valid (unknown, revoked or expired)');
      }
      return principal;
    }
    const resolved = await auth.resolve(originOf(req));
    if (resolved === null) {
      throw new ApiError(401, 'missing_api_key', 'send an API key: "Authorization: Bearer <key>"');
    }
    if (!originAllowed(req.headers, auth.requestHost(originOf(req)), deps.allowedOrigins)) {
      throw new ApiError(403, 'origin_not_allowed', 'this page may not use the dashboard session here: its Origin is not the dashboard');
    }
    if (!roleAllows(resolved.identity.role, 'operator')) {
      // Running a model is an operator's right, as loading one is; viewers only look.
      throw new ApiError(403, 'insufficient_role', 'the playground needs the operator role');
    }
    const user = resolved.identity.user;
    return { keyId: null, keyName: null, userId: user?.id ?? null, username: user?.username ?? null, models: null, limits: { requestsPerMinute: null, tokensPerMinute: null } };
  };

  const newTrace = (req: Request, endpoint: string): Trace => ({
    ts: Date.now(),
    start: performance.now(),
    principal: null,
    model: null,
    endpoint,
    stream: false,
    address: auth.clientAddress(originOf(req)),
  });

  const modelObject = (m: { id: string; created?: number | null; status: string }) => ({ id: m.id, object: 'model', created: m.created ?? 0, owned_by: 'llamacpp', status: { value: m.status } });

  router.get('/models', (req, res) => {
    const trace = newTrace(req, '/models');
    void (async () => {
      try {
        trace.principal = await authenticate(req);
        const models = await proxy.models(trace.principal);
        record(trace, 200);
        res.setHeader('Cache-Control', 'no-store').json({ object: 'list', data: models.map(modelObject) });
      } catch (err) {
        fail(res, trace, toApiError(err));
      }
    })();
  });

  /** OpenAI's "retrieve model": one model of the list the key may use, else 404 model_not_found. */
  router.get('/models/:model', (req, res) => {
    const trace = newTrace(req, '/models');
    void (async () => {
      try {
        trace.principal = await authenticate(req);
        const model = (await proxy.models(trace.principal)).find((m) => m.id === req.params.model);
        if (model === undefined) {
          throw new ApiError(404, 'model_not_found', `the model "${req.params.model}" does not exist or this key may not use it`, { param: 'model' });
        }
        trace.model = model.id;
        record(trace, 200);
        res.setHeader('Cache-Control', 'no-store').json(modelObject(model));
      } catch (err) {
        fail(res, trace, toApiError(err));
      }
    })();
  });

  const readBody = express.raw({ type: () => true, limit: deps.bodyLimitBytes });
  for (const endpoint of OPENAI_ENDPOINTS) {
    router.post(endpoint, readBody, (req, res) => {
      const trace = newTrace(req, endpoint);
      void forward(req, res, trace).catch((err: unknown) => fail(res, trace, toApiError(err)));
    });
  }

  const forward = async (req: Request, res: Response, trace: Trace): Promise<void> => {
    trace.principal = await authenticate(req);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ApiError(400, 'invalid_json', 'the body is not valid JSON');
    }
    const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
    if (typeof fields.model !== 'string' || fields.model === '') {
      throw new ApiError(400, 'missing_model', 'name the model: "model" is required', { param: 'model' });
    }
    trace.model = fields.model.slice(0, 512);
    trace.stream = fields.stream === true;
    const admission = await proxy.admit(trace.principal, trace.model);
    let tokens = 0;
    try {
      deps.markUsed?.(trace.model);
      const vouched = await ensureLoaded(trace, true);
      if (req.socket.destroyed) {
        // The caller left while the model loaded: nothing to forward.
        record(trace, 499, { error: 'client_closed_request' });
        return;
      }
      tokens = await stream(req, res, trace, body, vouched);
    } finally {
      admission.release(tokens);
      deps.markUsed?.(trace.model);
    }
  };

  /** Placement's step before forwarding: the model is loaded (on demand) or the request fails; true when the cached list vouched for it. */
  const ensureLoaded = async (trace: Trace, cached: boolean): Promise<boolean> => {
    if (deps.ensureLoaded !== undefined && trace.model !== null) {
      return deps.ensureLoaded(trace.model, cached);
    }
    return false;
  };

  /**
   * Sends the request upstream. When the cached model list `vouched` for the model, it goes with
   * `autoload=false` (the router must not load behind placement's back); should the router answer
   * that the model is not loaded (unloaded since the list was cached), placement checks afresh
   * (loading it on demand) and the request goes again. Resolves with the answer to pass on.
   */
  const send = async (trace: Trace, body: Buffer, headers: Record<string, string>, signal: AbortSignal, vouched: boolean): Promise<UpstreamResponse> => {
    const path = `v1${trace.endpoint}`;
    if (!vouched) {
      return upstream.forward('POST', path, body, headers, signal);
    }
    const up = await upstream.forward('POST', `${path}?autoload=false`, body, headers, signal);
    if (up.status !== 400) {
      return up;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // Not destroyed on leaving the loop early: a body too big for the router's refusal is passed on whole.
    for await (const chunk of up.body.iterator({ destroyOnReturn: false })) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > MAX_ERROR_BODY_BYTES) {
        break;
      }
    }
    const head = Buffer.concat(chunks);
    if (size <= MAX_ERROR_BODY_BYTES && head.includes(NOT_LOADED_MESSAGE)) {
      log.debug('model unloaded since the list was cached; checking afresh', { model: trace.model });
      await ensureLoaded(trace, false);
      return upstream.forward('POST', path, body, headers, signal);
    }
    // Another 400 (a bad request): passed on as the router gave it.
    const rest = up.body;
    return { ...up, body: Readable.from((async function* () {
      yield head;
      yield* rest;
    })()) };
  };

  /** Forwards the request and streams the answer back; resolves with the tokens used. */
  const stream = async (req: Request, res: Response, trace: Trace, body: Buffer, vouched: boolean): Promise<number> => {
    const controller = new AbortController();
    // The client went away before the answer ended: stop the router's work too.
    const onClose = (): void => {
      if (!res.writableFinished) {
        controller.abort();
      }
    };
    res.on('close', onClose);
    const headers: Record<string, string> = {};
    const accept = req.headers.accept;
    if (typeof accept === 'string') {
      headers.accept = accept;
    }
    const up = await send(trace, body, headers, controller.signal, vouched);
    const tap = new UsageTap(up.headers['content-type']);
    const capture = deps.capture?.settings();
    const captured = capture?.enabled === true ? new CaptureBuffer(capture.maxBytes, body) : undefined;
    let ttftMs: number | null = null;
    up.body.on('data', (chunk: Buffer) => {
      if (ttftMs === null) {
        ttftMs = performance.now() - trace.start;
      }
      tap.push(chunk);
      captured?.push(chunk);
    });
    res.status(up.status);
    for (const name of PASSED_HEADERS) {
      const value = up.headers[name];
      if (value !== undefined) {
        res.setHeader(name, value);
      }
    }
    // nginx in front must not buffer a stream either (its location also says so).
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    let aborted = false;
    try {
      await pipeline(up.body, res);
    } catch {
      aborted = true;
    } finally {
      res.off('close', onClose);
    }
    aborted ||= controller.signal.aborted || !res.writableFinished;
    const f = tap.end();
    const durationMs = performance.now() - trace.start;
    const generating = ttftMs === null ? null : (durationMs - ttftMs) / 1000;
    const tokensPerSec = f.tokensPerSec ?? (f.completionTokens !== null && generating !== null && generating > 0 ? f.completionTokens / generating : null);
    const status = aborted ? 499 : up.status;
    record(trace, status, {
      promptTokens: f.promptTokens,
      cachedTokens: f.cachedTokens,
      completionTokens: f.completionTokens,
      ttftMs,
      tokensPerSec,
      durationMs,
      error: aborted ? 'client_closed_request' : up.status >= 400 ? `upstream_${up.status}` : null,
    }, captured);
    return (f.promptTokens ?? 0) + (f.completionTokens ?? 0);
  };

  // Everything else under /v1, and bodies over the limit or unreadable: OpenAI's error shape.
  router.use((req, res) => {
    res.status(404).json(new ApiError(404, 'unknown_url', `unknown endpoint ${req.method} /v1${req.path}`).body());
  });
  router.use((err: unknown, req: Request, res: Response, _next: express.NextFunction) => {
    const status = (err as { status?: number }).status;
    const trace = newTrace(req, req.path);
    fail(res, trace, status === 413
      ? new ApiError(413, 'request_too_large', `the body is larger than ${deps.bodyLimitBytes} bytes`)
      : new ApiError(400, 'invalid_body', 'the body could not be read'));
  });
  return router;
}
