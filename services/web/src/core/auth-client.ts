/**
 * The gateway's sign-in routes over fetch (JSON, the session cookie is HttpOnly and same-origin).
 * Every method resolves with the session it leads to, or rejects with an AuthError carrying the
 * server's code (NETWORK when the gateway cannot be reached).
 */
import type { AuthSessionInfo, PasswordChangeRequest, SetupRequest, SignInRequest } from '@llamaproxy/shared';
import { parseHttpError, parseSessionInfo } from '../lib/auth-session.js';
import type { FailureInfo } from '../lib/error-text.js';
import { withBase } from './base-path.js';
import { AUTH_ROUTES } from './contract.js';

export class AuthError extends Error implements FailureInfo {
  readonly code: string;
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(info: FailureInfo, status: number) {
    super(info.message);
    this.name = 'AuthError';
    this.code = info.code;
    this.status = status;
    this.retryAfterMs = info.retryAfterMs;
  }
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export class AuthClient {
  private readonly base: string;
  private readonly fetch: Fetch;

  constructor(base: string, fetchFn: Fetch = (input, init) => fetch(input, init)) {
    this.base = base;
    this.fetch = fetchFn;
  }

  session(): Promise<AuthSessionInfo> {
    return this.call('GET', AUTH_ROUTES.session).then((body) => this.sessionOf(body));
  }

  signIn(request: SignInRequest): Promise<AuthSessionInfo> {
    return this.call('POST', AUTH_ROUTES.signIn, request).then((body) => this.sessionOf(body));
  }

  setup(request: SetupRequest): Promise<AuthSessionInfo> {
    return this.call('POST', AUTH_ROUTES.setup, request).then((body) => this.sessionOf(body));
  }

  async signOut(everywhere = false): Promise<void> {
    await this.call('POST', everywhere ? AUTH_ROUTES.signOutAll : AUTH_ROUTES.signOut, {});
  }

  async changePassword(request: PasswordChangeRequest): Promise<void> {
    await this.call('POST', AUTH_ROUTES.password, request);
  }

  private sessionOf(body: unknown): AuthSessionInfo {
    const info = parseSessionInfo(body);
    if (info === null) {
      throw new AuthError({ code: 'INTERNAL', message: 'The gateway answered with something that is not a session' }, 200);
    }
    return info;
  }

  private async call(method: 'GET' | 'POST', route: string, body?: object): Promise<unknown> {
    let response: Response;
    try {
      response = await this.fetch(withBase(route, this.base), {
        method,
        credentials: 'same-origin',
        cache: 'no-store',
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch {
      throw new AuthError({ code: 'NETWORK', message: 'The gateway cannot be reached' }, 0);
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // An HTML error page from a proxy: parseHttpError names it from the status.
    }
    if (!response.ok) {
      throw new AuthError(parseHttpError(response.status, parsed), response.status);
    }
    return parsed;
  }
}
