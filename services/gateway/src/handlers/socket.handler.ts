import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'socket.io';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import {
  errorResponse,
  ErrorCode,
  isAuditedEvent,
  isRequestEvent,
  okResponse,
  RequestEvents,
  roleAllows,
  toErrorInfo,
  type ClientToServerEvents,
  type ErrorInfo,
  type InterServerEvents,
  type RequestEvent,
  type ResponseEnvelope,
  type ServerToClientEvents,
  type SocketData,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { GatewayConfig } from '../config.js';
import type { DatabaseCondition } from '../db/database-errors.js';
import type { AuditService } from '../services/audit.service.js';
import type { AuthService } from '../services/auth.service.js';
import { originAllowed } from '../services/origin-policy.js';
import type { Handlers, RequestContext } from './request-context.js';

export type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type Ack = (response: ResponseEnvelope) => void;

/** Rooms every socket joins, so a user's or a session's sockets can be ended on every replica. */
export const SocketRooms = {
  user: (userId: string) => `user:${userId}`,
  session: (idHash: string) => `session:${idHash}`,
  /** Every admin socket (a role change reconnects the socket, so membership follows the role). */
  admins: 'role:admin',
} as const;

/** Headers the handshake needs: Origin, cookie, host and proxy headers (identity, address). */
const KEPT_HEADER = /^(origin|cookie|host|user-agent|x-forwarded-.*|remote-.*|x-auth.*|x-user.*|x-email.*|x-group.*)$/i;

/** An Engine.IO connection as its 'connection' event gives it. */
interface RawConnection {
  request: { headers: IncomingHttpHeaders } | null;
  keptHeaders?: IncomingHttpHeaders;
}

/**
 * For `io.engine.on('connection')`: keeps a copy of the headers identity needs (plus any header
 * named by PROXY_USER_HEADER / PROXY_GROUPS_HEADER, passed in `extra`), then drops the HTTP
 * request that Engine.IO would otherwise hold for the connection's lifetime.
 */
export function dropHandshakeRequest(raw: RawConnection, extra: readonly string[] = []): void {
  const headers = raw.request?.headers ?? {};
  const kept: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (KEPT_HEADER.test(name) || extra.includes(name)) {
      kept[name] = value;
    }
  }
  raw.keptHeaders = kept;
  raw.request = null;
}

/** The handshake headers kept by `dropHandshakeRequest` (or the live request's, when not dropped). */
function handshakeHeaders(socket: AppSocket): IncomingHttpHeaders {
  const raw = socket.conn as unknown as RawConnection;
  return raw.keptHeaders ?? socket.handshake.headers;
}

/** A handshake refusal: the client's `connect_error` carries the code as its message. */
function refusal(code: ErrorCode, message: string): Error & { data: ErrorInfo } {
  return Object.assign(new Error(code), { data: { code, message } });
}

/**
 * The handshake middleware: refuses a foreign `Origin`, resolves the identity once (session
 * cookie, trusted proxy headers, or `none`), and caps open sockets per user and per address on
 * this replica. Returns the middleware and a `release` to call when a socket disconnects.
 */
export function createHandshake(auth: AuthService, config: GatewayConfig): {
  middleware: (socket: AppSocket, next: (err?: Error) => void) => void;
  release: (socket: AppSocket) => void;
} {
  const open = new Map<string, number>();
  const keys = (socket: AppSocket): string[] => [`a:${socket.data.address}`, ...(socket.data.identity.user ? [`u:${socket.data.identity.user.id}`] : [])];
  const middleware = (socket: AppSocket, next: (err?: Error) => void): void => {
    const req = { headers: handshakeHeaders(socket), peer: socket.conn.remoteAddress };
    if (!originAllowed(req.headers, auth.requestHost(req), config.auth.allowedOrigins)) {
      next(refusal(ErrorCode.ORIGIN_NOT_ALLOWED, 'this page may not connect: its Origin is not the dashboard and not in ALLOWED_ORIGINS'));
      return;
    }
    auth
      .resolve(req)
      .then((resolved) => {
        if (resolved === null) {
          next(refusal(ErrorCode.UNAUTHENTICATED, 'sign in first'));
          return;
        }
        socket.data.identity = resolved.identity;
        socket.data.sessionHash = resolved.sessionHash;
        socket.data.address = auth.clientAddress(req);
        const [addressKey, userKey] = keys(socket);
        if ((open.get(addressKey!) ?? 0) >= config.limits.connectionsPerAddress || (userKey !== undefined && (open.get(userKey) ?? 0) >= config.limits.connectionsPerUser)) {
          next(refusal(ErrorCode.RATE_LIMITED, 'too many open connections'));
          return;
        }
        for (const key of keys(socket)) {
          open.set(key, (open.get(key) ?? 0) + 1);
        }
        socket.data.counted = true;
        if (resolved.identity.user !== null) {
          void socket.join(SocketRooms.user(resolved.identity.user.id));
        }
        if (resolved.sessionHash !== null) {
          void socket.join(SocketRooms.session(resolved.sessionHash));
        }
        if (resolved.identity.role === 'admin') {
          void socket.join(SocketRooms.admins);
        }
        next();
      })
      .catch(() => next(refusal(ErrorCode.INTERNAL, 'identity could not be resolved')));
  };
  const release = (socket: AppSocket): void => {
    if (socket.data.counted !== true) {
      return;
    }
    socket.data.counted = false;
    for (const key of keys(socket)) {
      const n = (open.get(key) ?? 1) - 1;
      if (n <= 0) {
        open.delete(key);
      } else {
        open.set(key, n);
      }
    }
  };
  return { middleware, release };
}

export interface RequestLimits {
  requestsPerSec: number;
  burst: number;
}

/**
 * Token buckets for socket requests, per connection and per user (or address when anonymous):
 * a steady rate plus a burst allowance (rate-limiter-flexible's BurstyRateLimiter).
 */
export function createRequestLimiter(limits: RequestLimits): (socket: AppSocket) => Promise<number | null> {
  const bucket = (prefix: string, perSec: number, burst: number): BurstyRateLimiter =>
    new BurstyRateLimiter(
      new RateLimiterMemory({ keyPrefix: `${prefix}-rate`, points: perSec, duration: 1 }),
      new RateLimiterMemory({ keyPrefix: `${prefix}-burst`, points: burst, duration: 10 }),
    );
  const perConnection = bucket('conn', limits.requestsPerSec, limits.burst);
  // A user's tabs together get a few connections' worth.
  const perUser = bucket('user', limits.requestsPerSec * 4, limits.burst * 4);
  /** Null when allowed, else milliseconds until a retry can succeed. */
  return async (socket) => {
    const userKey = socket.data.identity.user?.id ?? socket.data.address;
    try {
      await perConnection.consume(socket.id);
      await perUser.consume(userKey);
      return null;
    } catch (res) {
      return res instanceof RateLimiterRes ? Math.max(1, res.msBeforeNext) : 1000;
    }
  };
}

export interface RequestHandlingDeps {
  handlers: Handlers;
  auth: AuthService;
  audit: AuditService;
  limit: (socket: AppSocket) => Promise<number | null>;
  log: Logger;
  /** Turns SQLite failures about the database (disk full, I/O) into DATABASE_ERROR, logged once per condition. */
  database: DatabaseCondition;
}

/**
 * The protocol as a thin adapter: check the session is still valid, the rate limit, the role the
 * event needs (from the shared table), parse the payload with its schema, run the handler, record
 * state-changing requests in the audit log, and answer with the envelope by ack, or as
 * `<event>:result` to this client when it passed no callback. Never throws, never leaves a
 * request unanswered.
 */
export function attachRequestHandlers(socket: AppSocket, deps: RequestHandlingDeps): void {
  const { handlers, auth, audit, limit, log, database } = deps;
  const reply = (event: string, response: ResponseEnvelope, ack: Ack | undefined): void => {
    if (ack) {
      ack(response);
    } else {
      (socket.emit as (ev: string, payload: unknown) => boolean)(`${event}:result`, response);
    }
  };

  const handle = async (event: RequestEvent, rawPayload: unknown, ack: Ack | undefined): Promise<void> => {
    const requestId = readRequestId(rawPayload);
    const definition = RequestEvents[event];
    const { identity, sessionHash } = socket.data;
    const fail = (error: ErrorInfo): void => reply(event, errorResponse(event, error, requestId), ack);
    const audited = async (outcome: 'ok' | 'error' | 'denied', errorCode: string | null, payload: unknown): Promise<void> => {
      if (isAuditedEvent(event)) {
        await audit.record({ identity, address: socket.data.address, event, target: targetOf(payload), payload, outcome, errorCode, requestId });
      }
    };

    if (sessionHash !== null && auth.validSession(sessionHash) === null) {
      fail({ code: ErrorCode.UNAUTHENTICATED, message: 'your session ended; sign in again' });
      socket.disconnect(true);
      return;
    }
    const retryAfterMs = await limit(socket);
    if (retryAfterMs !== null) {
      fail({ code: ErrorCode.RATE_LIMITED, message: 'too many requests', retryAfterMs });
      return;
    }
    if (!roleAllows(identity.role, definition.role)) {
      fail({ code: ErrorCode.FORBIDDEN, message: `${event} needs the ${definition.role} role` });
      await audited('denied', ErrorCode.FORBIDDEN, rawPayload);
      return;
    }
    const parsed = definition.payload.safeParse(rawPayload ?? {});
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ').slice(0, 2000);
      fail({ code: ErrorCode.VALIDATION_FAILED, message });
      await audited('error', ErrorCode.VALIDATION_FAILED, rawPayload);
      return;
    }
    const ctx: RequestContext = { socketId: socket.id, identity, sessionHash, address: socket.data.address };
    try {
      const handler = handlers[event] as (req: unknown, c: RequestContext) => Promise<never>;
      const data = await handler(parsed.data, ctx);
      reply(event, okResponse(event, data, requestId), ack);
      await audited('ok', null, parsed.data);
    } catch (err) {
      const info = database.failed(err, event)?.toInfo() ?? toErrorInfo(err);
      if (info.code === ErrorCode.INTERNAL) {
        log.error('request failed', { event, error: (err as Error).message, stack: (err as Error).stack });
      }
      fail(info);
      await audited('error', info.code, parsed.data);
    }
  };

  // The wire allows a number as the event name (socket.io-parser accepts it): never assume a
  // string. A throw here happens in Socket.IO's nextTick, outside any catch, and ends the process.
  socket.onAny((rawEvent: unknown, ...args: unknown[]) => {
    const event = typeof rawEvent === 'string' ? rawEvent : String(rawEvent);
    // `emit(event, ack)` passes the callback first; `emit(event, payload, ack)` second.
    let payload: unknown = args[0];
    const ack = args.find((a): a is Ack => typeof a === 'function');
    if (typeof payload === 'function') {
      payload = undefined;
    }
    if (!isRequestEvent(event)) {
      const response = { type: 'response', event: event.slice(0, 128), success: false, error: { code: ErrorCode.UNKNOWN_EVENT, message: `unknown event "${event.slice(0, 128)}"` }, requestId: readRequestId(payload), timestamp: Date.now() } as unknown as ResponseEnvelope;
      reply(event, response, ack);
      return;
    }
    handle(event, payload, ack).catch((err: unknown) => log.error('request handling failed', { event, error: (err as Error).message }));
  });
}

/** What a request is about, for the audit log: a model, a user, a session. */
function targetOf(payload: unknown): string | null {
  if (typeof payload !== 'object' || payload === null) {
    return null;
  }
  const p = payload as Record<string, unknown>;
  for (const key of ['modelId', 'username', 'userId', 'handle', 'keyId', 'activityId']) {
    const value = p[key];
    if (typeof value === 'string') {
      return value.slice(0, 256);
    }
    if (typeof value === 'number') {
      return String(value);
    }
  }
  return null;
}

function readRequestId(payload: unknown): string | null {
  if (typeof payload === 'object' && payload !== null && 'requestId' in payload) {
    const id = (payload).requestId;
    return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
  }
  return null;
}
