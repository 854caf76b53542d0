import { z } from 'zod';

/**
 * Identity contracts: how the gateway knows who sends a request (`AUTH_MODE`), the users and
 * sessions it keeps, the audit log, and the small HTTP API the web app signs in through.
 */

/** `local`: users and sessions in SQLite; `proxy`: a trusted reverse proxy names the user; `none`: everyone is admin. */
export const AuthMode = { local: 'local', proxy: 'proxy', none: 'none' } as const;
export type AuthMode = (typeof AuthMode)[keyof typeof AuthMode];

/** Who may send a request. The request table in `api.ts` is the single place that says which role each needs. */
export const Role = { viewer: 'viewer', operator: 'operator', admin: 'admin' } as const;
export type Role = (typeof Role)[keyof typeof Role];
export const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const RoleSchema = z.enum(Role);

/** True when `role` is at least `needed`. */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[needed];
}

/**
 * The gateway's HTTP routes for identity (the web container's nginx forwards `/api/` to the
 * gateway). Bodies are JSON. Success answers 200 with the route's type; a failure answers its
 * status with `HttpErrorBody`. Every POST needs an allowed `Origin` (403 `ORIGIN_NOT_ALLOWED`).
 *
 * The Socket.IO handshake uses the same cookie. When it is refused, the client's `connect_error`
 * has `message` set to the error code (`UNAUTHENTICATED`, `ORIGIN_NOT_ALLOWED`, `RATE_LIMITED`).
 * When a session is revoked or expires, or the user's role changes, the server disconnects the
 * user's sockets (reason "io server disconnect"): the client asks `session` again and reconnects
 * (new role) or shows the sign-in page.
 */
export const AuthRoutes = {
  /** GET: `AuthSessionInfo` for the caller (never fails when signed out). */
  session: '/api/auth/session',
  /** POST `SignInRequest`: sets the session cookie; 401 `INVALID_CREDENTIALS`, 429 `RATE_LIMITED`. */
  signIn: '/api/auth/sign-in',
  /** POST: ends the caller's session. */
  signOut: '/api/auth/sign-out',
  /** POST: ends every session of the caller. */
  signOutAll: '/api/auth/sign-out-all',
  /** POST `SetupRequest`: creates the first admin with the one-time setup token; 409 once a user exists. */
  setup: '/api/auth/setup',
  /** POST `PasswordChangeRequest`: the signed-in user changes their own password. */
  password: '/api/auth/password',
} as const;

/** Body of every failed HTTP answer. */
export interface HttpErrorBody {
  error: { code: string; message: string; retryAfterMs?: number };
}

/** Name of the session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS). */
export const SESSION_COOKIE = 'llamaproxy_session';

/** User names: what reverse proxies send (`Remote-User`), so e-mail-like names are fine. */
export const UsernameSchema = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@+-]*$/, 'letters, digits and _ . @ + - (starting with a letter or digit)');
/** Passwords: at least 10 characters (NIST SP 800-63B asks for 8+), at most 256 (hashing cost). */
export const PasswordSchema = z.string().min(10, 'at least 10 characters').max(256);

export const SignInRequestSchema = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(256) });
export type SignInRequest = z.infer<typeof SignInRequestSchema>;
export const SetupRequestSchema = z.object({ token: z.string().min(1).max(256), username: UsernameSchema, password: PasswordSchema });
export type SetupRequest = z.infer<typeof SetupRequestSchema>;
export const PasswordChangeRequestSchema = z.object({ currentPassword: z.string().min(1).max(256), newPassword: PasswordSchema });
export type PasswordChangeRequest = z.infer<typeof PasswordChangeRequestSchema>;

/** The signed-in user as the web app sees them. */
export interface Me {
  id: string;
  username: string;
  role: Role;
}

/** GET /api/auth/session. */
export interface AuthSessionInfo {
  mode: AuthMode;
  /** Null when signed out. */
  user: Me | null;
  /** `local` mode with no user yet: the web app shows "create the first admin" (needs the token from the log). */
  setupRequired: boolean;
}

/** A user as admins see them (never the password hash). */
export interface UserView {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  /** Where the user came from: created here (`local`) or first seen through the proxy (`proxy`). */
  origin: AuthMode;
  createdAt: number;
  lastSeenAt: number | null;
}

/** A sign-in session (never its id: only a short handle derived from the stored hash). */
export interface SessionView {
  /** Handle for revoking: the first 16 hex digits of the session id's SHA-256. */
  handle: string;
  userId: string;
  username: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  address: string | null;
  userAgent: string | null;
  /** True for the session that sent the request listing them. */
  current: boolean;
}

/** Outcome of an audited action. */
export const AuditOutcome = { ok: 'ok', error: 'error', denied: 'denied' } as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

/** One audit record: every state-changing request, sign-in, sign-out and failed sign-in. */
export interface AuditEntry {
  id: number;
  ts: number;
  userId: string | null;
  /** As given (a failed sign-in records the name that was tried). */
  username: string | null;
  role: Role | null;
  address: string | null;
  /** The request event (`config:update`) or `auth:sign-in`, `auth:sign-out`, ... */
  event: string;
  /** What it was about (model id, user name), when there is one. */
  target: string | null;
  /** The payload, secrets redacted, cut to 2,000 characters. */
  summary: string;
  outcome: AuditOutcome;
  /** The error code when the outcome is not `ok`. */
  errorCode: string | null;
  requestId: string | null;
}

/** Events that the audit log records besides the socket requests. */
export const AuthAuditEvent = {
  signIn: 'auth:sign-in',
  signInFailed: 'auth:sign-in-failed',
  signOut: 'auth:sign-out',
  signOutAll: 'auth:sign-out-all',
  setup: 'auth:setup',
  passwordChange: 'auth:password',
} as const;

/**
 * Keys whose values never leave the gateway unredacted (audit summaries, logs). A URL counts as a
 * secret (an alert channel's webhook URL is its credential), so `url`, `webhookUrl`, ... are too.
 */
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|cookie|url$|webhook/i;
/** Flags whose next argument is a secret. */
const SECRET_FLAG = /^--?(api-key|hf-token|hf-token-file|api-key-file|ssl-key-file)$/;
export const REDACTED = '***';

/**
 * A copy of `value` with secrets replaced by `***`: object keys that look like secrets, and the
 * argument after a secret flag in string arrays (`["--api-key", "x"]`, also `--api-key=x`).
 */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) {
    return REDACTED;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      const prev: unknown = i > 0 ? value[i - 1] : undefined;
      if (typeof prev === 'string' && SECRET_FLAG.test(prev)) {
        out.push(REDACTED);
      } else if (typeof item === 'string' && /^--?(api-key|hf-token)[^=]*=/.test(item)) {
        out.push(`${item.slice(0, item.indexOf('=') + 1)}${REDACTED}`);
      } else {
        out.push(redactSecrets(item, depth + 1));
      }
    }
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) ? REDACTED : redactSecrets(item, depth + 1);
    }
    return out;
  }
  return value;
}
