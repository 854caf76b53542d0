import express, { type Request, type Response, type Router } from 'express';
import { serialize } from 'cookie';
import type { z } from 'zod';
import {
  AuthAuditEvent,
  AuthRoutes,
  ErrorCode,
  PasswordChangeRequestSchema,
  SESSION_COOKIE,
  SetupRequestSchema,
  SignInRequestSchema,
  toErrorInfo,
  type AuthSessionInfo,
  type ErrorInfo,
  type HttpErrorBody,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { AuditService } from '../services/audit.service.js';
import { sha256, type AuthService, type RequestOrigin } from '../services/auth.service.js';
import { originAllowed } from '../services/origin-policy.js';

/** HTTP status for each error code these routes answer with. */
const STATUS: Partial<Record<ErrorInfo['code'], number>> = {
  VALIDATION_FAILED: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  ORIGIN_NOT_ALLOWED: 403,
  FORBIDDEN: 403,
  SETUP_UNAVAILABLE: 409,
  RATE_LIMITED: 429,
};

/** Largest JSON body the sign-in routes read. */
const BODY_LIMIT = '8kb';

/**
 * `/api/auth/*`: session info, sign-in, sign-out (one or all sessions), first-admin setup and
 * password change. Every POST needs an allowed Origin; every outcome of a sign-in, sign-out,
 * setup or password change is audited. Answers `HttpErrorBody` on failure.
 */
export function createAuthRouter(deps: { auth: AuthService; audit: Pick<AuditService, 'record'>; allowedOrigins: readonly string[]; logger: Logger }): Router {
  const { auth, audit, allowedOrigins } = deps;
  const log = deps.logger.child({ module: 'auth-http' });
  const router = express.Router();
  router.use(express.json({ limit: BODY_LIMIT }));

  const origin = (req: Request): RequestOrigin => ({ headers: req.headers, peer: req.socket.remoteAddress ?? '' });
  const sendError = (res: Response, info: ErrorInfo, status?: number): void => {
    if (info.retryAfterMs !== undefined) {
      res.setHeader('Retry-After', String(Math.ceil(info.retryAfterMs / 1000)));
    }
    const body: HttpErrorBody = { error: info };
    res.status(status ?? STATUS[info.code] ?? 500).json(body);
  };
  const parse = <T>(schema: z.ZodType<T>, req: Request): T => {
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      throw Object.assign(new Error('invalid body'), { info: { code: ErrorCode.VALIDATION_FAILED, message: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') } });
    }
    return parsed.data;
  };
  const setCookie = (req: Request, res: Response, value: string, maxAgeSec: number): void => {
    res.append(
      'Set-Cookie',
      serialize(SESSION_COOKIE, value, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: maxAgeSec, secure: auth.isHttps(origin(req), 'encrypted' in req.socket) }),
    );
  };
  const sessionInfo = async (req: Request): Promise<AuthSessionInfo> => {
    const resolved = await auth.resolve(origin(req));
    return { mode: auth.mode, user: resolved?.identity.user ?? null, setupRequired: auth.setupRequired() };
  };

  /** Wraps a POST: Origin check, then the action; unexpected errors become INTERNAL. */
  const post = (path: string, action: (req: Request, res: Response) => Promise<void>): void => {
    router.post(path, (req, res) => {
      if (!originAllowed(req.headers, auth.requestHost(origin(req)), allowedOrigins)) {
        sendError(res, { code: ErrorCode.ORIGIN_NOT_ALLOWED, message: 'this page may not sign in here: its Origin is not the dashboard and not in ALLOWED_ORIGINS' });
        return;
      }
      action(req, res).catch((err: unknown) => {
        const info = (err as { info?: ErrorInfo }).info ?? toErrorInfo(err);
        if (info.code === ErrorCode.INTERNAL) {
          log.error('auth route failed', { path, error: (err as Error).message });
        }
        sendError(res, info);
      });
    });
  };
  const record = (req: Request, event: string, outcome: 'ok' | 'error' | 'denied', extra: { username?: string | null; identity?: Parameters<AuditService['record']>[0]['identity']; errorCode?: string | null } = {}): Promise<void> =>
    audit.record({
      identity: extra.identity ?? null,
      username: extra.username ?? null,
      address: auth.clientAddress(origin(req)),
      event,
      target: null,
      payload: {},
      outcome,
      errorCode: extra.errorCode ?? null,
      requestId: null,
    });

  router.get(AuthRoutes.session.replace('/api/auth', ''), (req, res) => {
    sessionInfo(req)
      .then((info) => res.setHeader('Cache-Control', 'no-store').json(info))
      .catch(() => sendError(res, { code: ErrorCode.INTERNAL, message: 'Internal error' }));
  });

  post(AuthRoutes.signIn.replace('/api/auth', ''), async (req, res) => {
    const body = parse(SignInRequestSchema, req);
    try {
      const { sessionId, user } = await auth.signIn(body.username, body.password, origin(req));
      setCookie(req, res, sessionId, auth.sessionMaxAgeSec);
      await record(req, AuthAuditEvent.signIn, 'ok', { identity: { mode: auth.mode, user, role: user.role } });
      res.json({ mode: auth.mode, user, setupRequired: false } satisfies AuthSessionInfo);
    } catch (err) {
      const info = toErrorInfo(err);
      await record(req, AuthAuditEvent.signInFailed, info.code === ErrorCode.RATE_LIMITED ? 'denied' : 'error', { username: body.username.slice(0, 64), errorCode: info.code });
      throw err;
    }
  });

  post(AuthRoutes.setup.replace('/api/auth', ''), async (req, res) => {
    const body = parse(SetupRequestSchema, req);
    try {
      const { sessionId, user } = await auth.setup(body.token, body.username, body.password, origin(req));
      setCookie(req, res, sessionId, auth.sessionMaxAgeSec);
      await record(req, AuthAuditEvent.setup, 'ok', { identity: { mode: auth.mode, user, role: user.role } });
      res.json({ mode: auth.mode, user, setupRequired: false } satisfies AuthSessionInfo);
    } catch (err) {
      await record(req, AuthAuditEvent.setup, 'denied', { username: body.username, errorCode: toErrorInfo(err).code });
      throw err;
    }
  });

  const signOut = (all: boolean) => async (req: Request, res: Response): Promise<void> => {
    const resolved = await auth.resolve(origin(req));
    const id = auth.sessionIdFrom(req.headers);
    if (resolved?.identity.user && id !== null) {
      if (all) {
        auth.revokeUserSessions(resolved.identity.user.id);
      } else {
        auth.revokeSession(sha256(id));
      }
      await record(req, all ? AuthAuditEvent.signOutAll : AuthAuditEvent.signOut, 'ok', { identity: resolved.identity });
    }
    setCookie(req, res, '', 0);
    res.json({ mode: auth.mode, user: null, setupRequired: auth.setupRequired() } satisfies AuthSessionInfo);
  };
  post(AuthRoutes.signOut.replace('/api/auth', ''), signOut(false));
  post(AuthRoutes.signOutAll.replace('/api/auth', ''), signOut(true));

  post(AuthRoutes.password.replace('/api/auth', ''), async (req, res) => {
    const body = parse(PasswordChangeRequestSchema, req);
    const resolved = await auth.resolve(origin(req));
    if (!resolved?.identity.user || resolved.sessionHash === null) {
      sendError(res, { code: ErrorCode.UNAUTHENTICATED, message: 'sign in first' });
      return;
    }
    try {
      await auth.changePassword(resolved.identity.user.id, resolved.sessionHash, body.currentPassword, body.newPassword);
      await record(req, AuthAuditEvent.passwordChange, 'ok', { identity: resolved.identity });
    } catch (err) {
      await record(req, AuthAuditEvent.passwordChange, 'error', { identity: resolved.identity, errorCode: toErrorInfo(err).code });
      throw err;
    }
    res.json(await sessionInfo(req));
  });

  // A body that is not JSON or too large: the same error shape as everything else.
  router.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    const status = (err as { status?: number }).status;
    // 413 for a body over the limit (HTTP's own answer), 400 for one that is not JSON.
    sendError(res, { code: ErrorCode.VALIDATION_FAILED, message: status === 413 ? `the body is larger than ${BODY_LIMIT}` : 'the body is not valid JSON' }, status === 413 ? 413 : 400);
  });

  return router;
}
