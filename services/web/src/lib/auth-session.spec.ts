import type { AuthSessionInfo } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { identityFromSession, parseHttpError, parseSessionInfo, authScreen } from './auth-session.js';

const alice = { id: 'u1', username: 'alice', role: 'operator' } as const;

describe('parseSessionInfo', () => {
  it('reads a signed-in and a signed-out session', () => {
    expect(parseSessionInfo({ mode: 'local', user: alice, setupRequired: false })).toEqual({ mode: 'local', user: alice, setupRequired: false });
    expect(parseSessionInfo({ mode: 'none', user: null, setupRequired: false })).toEqual({ mode: 'none', user: null, setupRequired: false });
  });

  it.each([
    ['not an object', 'nope'],
    ['an unknown mode', { mode: 'ldap', user: null, setupRequired: false }],
    ['no setupRequired', { mode: 'local', user: null }],
    ['an unknown role', { mode: 'local', user: { ...alice, role: 'root' }, setupRequired: false }],
    ['a user without a name', { mode: 'local', user: { id: 'u1', role: 'admin' }, setupRequired: false }],
  ])('refuses %s', (_name, body) => {
    expect(parseSessionInfo(body)).toBeNull();
  });
});

describe('parseHttpError', () => {
  it('reads the error body with its retry time', () => {
    expect(parseHttpError(429, { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 5000 } })).toEqual({ code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 5000 });
    expect(parseHttpError(401, { error: { code: 'INVALID_CREDENTIALS', message: 'no' } })).toEqual({ code: 'INVALID_CREDENTIALS', message: 'no' });
  });

  it.each([
    [401, 'UNAUTHENTICATED'],
    [403, 'FORBIDDEN'],
    [429, 'RATE_LIMITED'],
    [502, 'NETWORK'],
    [500, 'INTERNAL'],
  ])('names a %i without a body %s', (status, code) => {
    expect(parseHttpError(status, '<html>bad gateway</html>').code).toBe(code);
  });
});

describe('authScreen', () => {
  it.each<[string, AuthSessionInfo, ReturnType<typeof authScreen>]>([
    ['sign-in off', { mode: 'none', user: null, setupRequired: false }, 'app'],
    ['signed in', { mode: 'local', user: alice, setupRequired: false }, 'app'],
    ['no user yet', { mode: 'local', user: null, setupRequired: true }, 'setup'],
    ['signed out', { mode: 'local', user: null, setupRequired: false }, 'sign-in'],
    ['proxy named someone', { mode: 'proxy', user: alice, setupRequired: false }, 'app'],
    ['proxy named nobody', { mode: 'proxy', user: null, setupRequired: false }, 'unidentified'],
  ])('%s → %s', (_name, info, expected) => {
    expect(authScreen(info)).toBe(expected);
  });
});

describe('identityFromSession', () => {
  it('makes everyone admin with sign-in off, and takes the user’s role otherwise', () => {
    expect(identityFromSession({ mode: 'none', user: null, setupRequired: false })).toEqual({ mode: 'none', user: null, role: 'admin' });
    expect(identityFromSession({ mode: 'local', user: alice, setupRequired: false })).toEqual({ mode: 'local', user: alice, role: 'operator' });
    expect(identityFromSession({ mode: 'local', user: null, setupRequired: false })).toBeNull();
  });
});
