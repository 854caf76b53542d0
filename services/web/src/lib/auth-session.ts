/**
 * Pure rules of the sign-in flow: reading the gateway's answers (without zod, which stays out of
 * the initial bundle) and deciding what to show for a session.
 */
import type { AuthMode, AuthSessionInfo, ConnectionIdentity, Me, Role } from '@llamaproxy/shared';
import { ROLES } from '../core/contract.js';
import type { FailureInfo } from './error-text.js';

const MODES: readonly string[] = ['local', 'proxy', 'none'] satisfies AuthMode[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseMe(value: unknown): Me | null | undefined {
  if (value === null) {
    return null;
  }
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.username !== 'string' || !(ROLES as readonly unknown[]).includes(value.role)) {
    return undefined;
  }
  return { id: value.id, username: value.username, role: value.role as Role };
}

/** The body of GET /api/auth/session (also of sign-in and setup), or null when it is not one. */
export function parseSessionInfo(value: unknown): AuthSessionInfo | null {
  if (!isRecord(value) || !MODES.includes(value.mode as string) || typeof value.setupRequired !== 'boolean') {
    return null;
  }
  const user = parseMe(value.user ?? null);
  return user === undefined ? null : { mode: value.mode as AuthMode, user, setupRequired: value.setupRequired };
}

/** The `HttpErrorBody` of a failed answer; a body that is not one gives a code from the status. */
export function parseHttpError(status: number, body: unknown): FailureInfo {
  const error = isRecord(body) && isRecord(body.error) ? body.error : null;
  if (error !== null && typeof error.code === 'string' && typeof error.message === 'string') {
    return {
      code: error.code,
      message: error.message,
      ...(typeof error.retryAfterMs === 'number' && Number.isFinite(error.retryAfterMs) && { retryAfterMs: error.retryAfterMs }),
    };
  }
  const code = status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'FORBIDDEN' : status === 429 ? 'RATE_LIMITED' : status >= 502 && status <= 504 ? 'NETWORK' : 'INTERNAL';
  return { code, message: `The gateway answered ${status}` };
}

/** What the app shows for a session. */
export type AuthScreen = 'setup' | 'sign-in' | 'unidentified' | 'app';

export function authScreen(info: AuthSessionInfo): AuthScreen {
  if (info.mode === 'none') {
    return 'app';
  }
  if (info.user !== null) {
    return 'app';
  }
  if (info.mode === 'proxy') {
    return 'unidentified';
  }
  return info.setupRequired ? 'setup' : 'sign-in';
}

/** The identity the socket will report, known before it connects (`none` mode: everyone is admin). */
export function identityFromSession(info: AuthSessionInfo): ConnectionIdentity | null {
  if (info.mode === 'none') {
    return { mode: 'none', user: null, role: 'admin' };
  }
  return info.user === null ? null : { mode: info.mode, user: info.user, role: info.user.role };
}
