import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REQUEST_EVENT_NAMES, RequestEvents, roleAllows, type AuthSessionInfo, type HttpErrorBody, type RequestEvent, type Role } from '@llamaproxy/shared';
import { expectError, expectOk, signIn, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { GatewayUnderTest } from './auth-fixture.js';

/**
 * Identity end to end on a real gateway process (real Redis, real SQLite file, real Socket.IO
 * and HTTP): the role table enforced in every auth mode, sign-in and its limits, sessions that
 * end, role changes reaching open sockets, proxy headers trusted only from TRUSTED_PROXIES,
 * foreign origins refused, and the audit log.
 */
const redisUrl = (): string => `${inject('redisUrl')}/7`;
const ADMIN = { username: 'root-admin', password: 'correct horse battery' };
/** High limits for the table-driven tests, so the rate limiter is not what answers. */
const NO_LIMITS = { RATE_LIMIT_REQUESTS_PER_SEC: '100000', RATE_LIMIT_BURST: '100000' };
const ROLES: Role[] = ['viewer', 'operator', 'admin'];

/** Sends every request event with an empty payload; returns the events answered FORBIDDEN. */
async function forbiddenEvents(client: TestClient): Promise<RequestEvent[]> {
  const forbidden: RequestEvent[] = [];
  for (const event of REQUEST_EVENT_NAMES) {
    // An empty payload: the role is checked before the schema, so a permitted event answers
    // something else (usually VALIDATION_FAILED) and changes nothing.
    const response = await client.request(event, { requestId: `t-${event}`, __probe: true } as never);
    if (!response.success && response.error.code === 'FORBIDDEN') {
      forbidden.push(event);
    }
  }
  return forbidden;
}

const expectedForbidden = (role: Role): RequestEvent[] => REQUEST_EVENT_NAMES.filter((e) => !roleAllows(role, RequestEvents[e].role));

describe('auth: local mode', () => {
  let gw: GatewayUnderTest;
  const cookies = new Map<Role, string>();

  beforeAll(async () => {
    gw = await new GatewayUnderTest(redisUrl(), { AUTH_MODE: 'local', ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, ...NO_LIMITS }).start();
    cookies.set('admin', await signIn(gw.url, ADMIN.username, ADMIN.password));
    const admin = await gw.connect({ cookie: cookies.get('admin')! });
    for (const role of ['viewer', 'operator'] as const) {
      expectOk(await admin.request('users:create', { username: `a-${role}`, password: `${role}-password-1`, role }));
      cookies.set(role, await signIn(gw.url, `a-${role}`, `${role}-password-1`));
    }
  });
  afterEach(() => gw.closeClients());
  afterAll(async () => gw?.stop());

  it('refuses a socket without a session', async () => {
    expect(await gw.refusal()).toBe('UNAUTHENTICATED');
    expect(await gw.refusal({ cookie: 'llamaproxy_session=' + 'x'.repeat(43) })).toBe('UNAUTHENTICATED');
  });

  it.each(ROLES)('answers FORBIDDEN to a %s exactly where the shared role table says', async (role) => {
    const client = await gw.connect({ cookie: cookies.get(role)! });
    expect(await forbiddenEvents(client)).toEqual(expectedForbidden(role));
  });

  it('tells the client who it is in the snapshot and over GET /api/auth/session', async () => {
    const client = await gw.connect({ cookie: cookies.get('operator')! });
    const snapshot = await client.waitForBroadcast('snapshot');
    expect(snapshot.data.identity).toMatchObject({ mode: 'local', role: 'operator', user: { username: 'a-operator' } });
    const info = (await (await fetch(`${gw.url}/api/auth/session`, { headers: { cookie: cookies.get('viewer')! } })).json()) as AuthSessionInfo;
    expect(info).toMatchObject({ mode: 'local', setupRequired: false, user: { username: 'a-viewer', role: 'viewer' } });
  });

  it('gives the same answer for an unknown user and a wrong password, with no cookie', async () => {
    const wrong = await gw.post('/api/auth/sign-in', { username: ADMIN.username, password: 'not the password' });
    const unknown = await gw.post('/api/auth/sign-in', { username: 'nobody-here', password: 'not the password' });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    const [a, b] = [(await wrong.json()) as HttpErrorBody, (await unknown.json()) as HttpErrorBody];
    expect(a).toEqual(b);
    expect(a.error.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.headers.getSetCookie()).toEqual([]);
  });

  it('answers a body that is not JSON with 400 and one over the limit with 413, both as JSON errors', async () => {
    const bad = await fetch(`${gw.url}/api/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username":' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as HttpErrorBody).error.code).toBe('VALIDATION_FAILED');
    const big = await gw.post('/api/auth/sign-in', { username: 'x', password: 'y'.repeat(20_000) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as HttpErrorBody).error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'the body is larger than 8kb' });
  });

  it('sets an HttpOnly, SameSite=Lax session cookie, Secure only when a trusted proxy says HTTPS', async () => {
    const res = await gw.post('/api/auth/sign-in', ADMIN);
    expect(res.status).toBe(200);
    const cookie = res.headers.getSetCookie()[0] ?? '';
    expect(cookie).toMatch(/^llamaproxy_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i);
    // X-Forwarded-Proto from a peer outside TRUSTED_PROXIES (none set here) is ignored.
    const forwarded = await gw.post('/api/auth/sign-in', ADMIN, { 'x-forwarded-proto': 'https' });
    expect(forwarded.headers.getSetCookie()[0]).not.toMatch(/Secure/i);
  });

  it('stores only a hash of the session id', async () => {
    const cookie = await signIn(gw.url, ADMIN.username, ADMIN.password);
    const id = cookie.split('=')[1]!;
    const db = new Database(gw.dbPath, { readonly: true });
    const rows = db.prepare('SELECT id_hash FROM sessions').all() as { id_hash: string }[];
    db.close();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.some((r) => r.id_hash === id)).toBe(false);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.id_hash))).toBe(true);
  });

  it('refuses a foreign Origin for the handshake and for sign-in, and accepts the dashboard\'s own', async () => {
    expect(await gw.refusal({ cookie: cookies.get('admin')!, origin: 'https://evil.example' })).toBe('ORIGIN_NOT_ALLOWED');
    const res = await gw.post('/api/auth/sign-in', ADMIN, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as HttpErrorBody).error.code).toBe('ORIGIN_NOT_ALLOWED');
    const own = await gw.connect({ cookie: cookies.get('admin')!, origin: gw.url });
    expectOk(await own.request('models:list', {}));
  });

  it('ends a session at sign-out: its open socket is disconnected and the cookie no longer works', async () => {
    const cookie = await signIn(gw.url, 'a-viewer', 'viewer-password-1');
    const client = await gw.connect({ cookie });
    const disconnected = new Promise<string>((resolve) => client.socket.once('disconnect', resolve));
    const res = await gw.post('/api/auth/sign-out', {}, { cookie });
    expect(res.status).toBe(200);
    expect(await disconnected).toBe('io server disconnect');
    expect(await gw.refusal({ cookie })).toBe('UNAUTHENTICATED');
  });

  it('disconnects the socket of a session an admin revokes', async () => {
    const cookie = await signIn(gw.url, 'a-operator', 'operator-password-1');
    const victim = await gw.connect({ cookie });
    const admin = await gw.connect({ cookie: cookies.get('admin')! });
    const sessions = expectOk(await admin.request('sessions:list', {})).sessions;
    const handles = sessions.filter((s) => s.username === 'a-operator').map((s) => s.handle);
    expect(handles.length).toBeGreaterThanOrEqual(1);
    const disconnected = new Promise<string>((resolve) => victim.socket.once('disconnect', resolve));
    for (const handle of handles) {
      expectOk(await admin.request('sessions:revoke', { handle }));
    }
    expect(await disconnected).toBe('io server disconnect');
    // The operator signs in again for the other tests.
    cookies.set('operator', await signIn(gw.url, 'a-operator', 'operator-password-1'));
  });

  it('ends an expired session: the next request answers UNAUTHENTICATED and the socket closes', async () => {
    const cookie = await signIn(gw.url, 'a-viewer', 'viewer-password-1');
    const client = await gw.connect({ cookie });
    expectOk(await client.request('models:list', {}));
    // Expire every session of this user in the shared SQLite file (another replica's clock could do the same).
    const db = new Database(gw.dbPath);
    db.prepare("UPDATE sessions SET expires_at = ? WHERE user_id = (SELECT id FROM users WHERE username = 'a-viewer')").run(Date.now() - 1);
    db.close();
    const disconnected = new Promise<string>((resolve) => client.socket.once('disconnect', resolve));
    expectError(await client.request('models:list', {}), 'UNAUTHENTICATED');
    expect(await disconnected).toBe('io server disconnect');
    cookies.set('viewer', await signIn(gw.url, 'a-viewer', 'viewer-password-1'));
  });

  it('applies a role change to an open socket at once', async () => {
    const admin = await gw.connect({ cookie: cookies.get('admin')! });
    const user = expectOk(await admin.request('users:create', { username: 'promoted', password: 'promoted-pass-1', role: 'viewer' })).user;
    const cookie = await signIn(gw.url, 'promoted', 'promoted-pass-1');
    const before = await gw.connect({ cookie });
    expectError(await before.request('llama:restart', {}), 'FORBIDDEN');
    const disconnected = new Promise<string>((resolve) => before.socket.once('disconnect', resolve));
    expectOk(await admin.request('users:update', { userId: user.id, role: 'operator' }));
    expect(await disconnected).toBe('io server disconnect');
    const after = await gw.connect({ cookie });
    expect((await after.waitForBroadcast('snapshot')).data.identity.role).toBe('operator');
    expect(await forbiddenEvents(after)).toEqual(expectedForbidden('operator'));
  });

  it('never removes or demotes the last admin, and a disabled user cannot sign in', async () => {
    const admin = await gw.connect({ cookie: cookies.get('admin')! });
    const users = expectOk(await admin.request('users:list', {})).users;
    const root = users.find((u) => u.username === ADMIN.username)!;
    expectError(await admin.request('users:update', { userId: root.id, role: 'viewer' }), 'LAST_ADMIN');
    expectError(await admin.request('users:update', { userId: root.id, disabled: true }), 'LAST_ADMIN');
    expectError(await admin.request('users:delete', { userId: root.id }), 'LAST_ADMIN');
    const temp = expectOk(await admin.request('users:create', { username: 'temp-user', password: 'temp-password-1', role: 'viewer' })).user;
    expectOk(await admin.request('users:update', { userId: temp.id, disabled: true }));
    expect((await gw.post('/api/auth/sign-in', { username: 'temp-user', password: 'temp-password-1' })).status).toBe(401);
    expectError(await admin.request('users:create', { username: 'TEMP-user', password: 'temp-password-1', role: 'viewer' }), 'USER_EXISTS');
  });

  it('records state-changing requests and sign-ins in the audit log, with secrets redacted', async () => {
    const admin = await gw.connect({ cookie: cookies.get('admin')! });
    expectOk(await admin.request('users:create', { username: 'audited', password: 'a-secret-password', role: 'viewer', requestId: 'req-audit-1' }));
    const viewer = await gw.connect({ cookie: cookies.get('viewer')! });
    expectError(await viewer.request('logs:clear', {}), 'FORBIDDEN');
    const { entries } = expectOk(await admin.request('audit:query', { limit: 500 }));
    const created = entries.find((e) => e.requestId === 'req-audit-1');
    expect(created).toMatchObject({ event: 'users:create', username: ADMIN.username, role: 'admin', target: 'audited', outcome: 'ok', address: '127.0.0.1' });
    expect(created!.summary).toContain('"password":"***"');
    expect(created!.summary).not.toContain('a-secret-password');
    expect(entries.find((e) => e.event === 'logs:clear' && e.outcome === 'denied')).toMatchObject({ username: 'a-viewer', errorCode: 'FORBIDDEN' });
    expect(entries.some((e) => e.event === 'auth:sign-in-failed' && e.username === 'nobody-here')).toBe(true);
    expect(entries.some((e) => e.event === 'auth:sign-in' && e.username === ADMIN.username)).toBe(true);
    // Filters: by user name and by an event prefix.
    const mine = expectOk(await admin.request('audit:query', { username: 'a-viewer', event: 'logs:', limit: 50 })).entries;
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.filter((e) => e.username !== 'a-viewer' || !e.event.startsWith('logs:'))).toEqual([]);
    // Reads are not audited.
    expect(entries.some((e) => e.event === 'models:list' || e.event === 'audit:query')).toBe(false);
  });

  it('limits failed sign-ins per user name with 429 and Retry-After, and the real password does not get through meanwhile', async () => {
    const admin = await gw.connect({ cookie: cookies.get('admin')! });
    expectOk(await admin.request('users:create', { username: 'limited', password: 'limited-password-1', role: 'viewer' }));
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) {
      statuses.push((await gw.post('/api/auth/sign-in', { username: 'limited', password: `wrong-${i}` })).status);
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    const blocked = await gw.post('/api/auth/sign-in', { username: 'limited', password: 'limited-password-1' });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await blocked.json()) as HttpErrorBody).error.code).toBe('RATE_LIMITED');
  });
});

describe('auth: first run without an admin', () => {
  let gw: GatewayUnderTest;
  beforeAll(async () => {
    gw = await new GatewayUnderTest(redisUrl(), { AUTH_MODE: 'local' }).start();
  });
  afterAll(async () => gw?.stop());

  it('prints a one-time setup token; setup with it creates the first admin once', async () => {
    const line = await gw.proc.waitForLine(/first-run setup token/);
    const token = (JSON.parse(line) as { token: string }).token;
    expect(token).toMatch(/^[0-9a-f]{48}$/);
    const info = (await (await fetch(`${gw.url}/api/auth/session`)).json()) as AuthSessionInfo;
    expect(info).toEqual({ mode: 'local', user: null, setupRequired: true });
    const wrong = await gw.post('/api/auth/setup', { token: 'f'.repeat(48), username: 'first', password: 'first-admin-pw' });
    expect(wrong.status).toBe(409);
    const ok = await gw.post('/api/auth/setup', { token, username: 'first', password: 'first-admin-pw' });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.getSetCookie()[0]!.split(';')[0]!;
    const client = await gw.connect({ cookie });
    expect((await client.waitForBroadcast('snapshot')).data.identity).toMatchObject({ role: 'admin', user: { username: 'first' } });
    const again = await gw.post('/api/auth/setup', { token, username: 'second', password: 'second-admin-pw' });
    expect(again.status).toBe(409);
  });
});

describe('auth: proxy mode', () => {
  let gw: GatewayUnderTest;
  const as = (user: string, groups: string): Record<string, string> => ({ 'remote-user': user, 'remote-groups': groups });
  afterEach(async () => gw?.stop());

  it.each(ROLES)('maps groups to the %s role and enforces the role table', async (role) => {
    gw = await new GatewayUnderTest(redisUrl(), { AUTH_MODE: 'proxy', TRUSTED_PROXIES: 'loopback', PROXY_ADMIN_GROUPS: 'admins', PROXY_OPERATOR_GROUPS: 'ops,devs', ...NO_LIMITS }).start();
    const groups = { viewer: 'users', operator: 'users,devs', admin: 'admins' }[role];
    const client = await gw.connect(as(`p-${role}`, groups));
    expect((await client.waitForBroadcast('snapshot')).data.identity).toMatchObject({ mode: 'proxy', role, user: { username: `p-${role}` } });
    expect(await forbiddenEvents(client)).toEqual(expectedForbidden(role));
  });

  it('ignores identity headers from a peer outside TRUSTED_PROXIES', async () => {
    gw = await new GatewayUnderTest(redisUrl(), { AUTH_MODE: 'proxy', TRUSTED_PROXIES: '10.0.0.0/8', PROXY_ADMIN_GROUPS: 'admins' }).start();
    expect(await gw.refusal(as('mallory', 'admins'))).toBe('UNAUTHENTICATED');
  });
});

describe('auth: none mode', () => {
  let gw: GatewayUnderTest;
  afterAll(async () => gw?.stop());

  it('makes every connection an admin, warns at start, and still refuses a foreign Origin', async () => {
    gw = await new GatewayUnderTest(redisUrl(), { AUTH_MODE: 'none', ...NO_LIMITS }).start();
    await gw.proc.waitForLine(/AUTH_MODE=none/);
    const client = await gw.connect();
    expect((await client.waitForBroadcast('snapshot')).data.identity).toEqual({ mode: 'none', user: null, role: 'admin' });
    expect(await forbiddenEvents(client)).toEqual([]);
    expect(await gw.refusal({ origin: 'https://evil.example' })).toBe('ORIGIN_NOT_ALLOWED');
  });

  it('answers RATE_LIMITED with a retry time beyond the per-connection burst', async () => {
    await gw.stop();
    gw = await new GatewayUnderTest(redisUrl(), { AUTH_MODE: 'none', RATE_LIMIT_REQUESTS_PER_SEC: '2', RATE_LIMIT_BURST: '5' }).start();
    const client = await gw.connect();
    const responses = await Promise.all(Array.from({ length: 20 }, () => client.request('models:list', {})));
    const limited = responses.filter((r) => !r.success && r.error.code === 'RATE_LIMITED');
    expect(limited.length).toBeGreaterThan(0);
    expect(responses.filter((r) => r.success).length).toBeGreaterThan(0);
    const first = limited[0]!;
    expect(!first.success && first.error.retryAfterMs).toBeGreaterThan(0);
    await waitFor(async () => (await client.request('models:list', {})).success, { timeoutMs: 15_000, what: 'the bucket refills' });
  });
});
