import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@llamaproxy/shared/node';
import type { AuthConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { SessionRepository } from '../repositories/session.repository.js';
import { StateRepository } from '../repositories/state.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { ProxyTrust } from '../repositories/proxy-trust.js';
import { AuthService, sha256 } from './auth.service.js';

const MINUTE = 60_000;
const baseConfig: AuthConfig = {
  mode: 'local',
  bootstrapAdmin: null,
  allowedOrigins: [],
  trustedProxies: ['10.0.0.0/8'],
  internalProxies: ['172.30.0.0/16'],
  proxy: { userHeader: 'remote-user', groupsHeader: 'remote-groups', adminGroups: ['admins'], operatorGroups: ['ops'] },
  sessionIdleMs: 30 * MINUTE,
  sessionMaxMs: 24 * 60 * MINUTE,
  auditRetentionMs: 0,
};

/** AuthService over a real in-memory SQLite database; Redis is never reached on these paths. */
function setup(config: Partial<AuthConfig> = {}) {
  const db = openDatabase(':memory:');
  const users = new UserRepository(db);
  const sessions = new SessionRepository(db);
  const kicked: string[] = [];
  const redis = new Redis({ lazyConnect: true });
  const sut = new AuthService({
    config: { ...baseConfig, ...config },
    users,
    sessions,
    state: new StateRepository(db),
    redis,
    proxies: new ProxyTrust(config.trustedProxies ?? baseConfig.trustedProxies, config.internalProxies ?? baseConfig.internalProxies),
    kicker: { kickUser: (id) => kicked.push(`user:${id}`), kickSession: (h) => kicked.push(`session:${h}`) },
    logger: createLogger({ service: 'test', level: 'error' }),
  });
  return { sut, users, sessions, kicked, redis };
}

describe(AuthService.name, () => {
  const redisClients: Redis[] = [];
  afterEach(() => {
    for (const r of redisClients.splice(0)) {
      r.disconnect();
    }
  });

  it('accepts a session inside its idle and absolute limits, and ends it past either', () => {
    const { sut, users, sessions, redis } = setup();
    redisClients.push(redis);
    const user = users.create({ username: 'u', passwordHash: null, role: 'viewer', origin: 'local' });
    const now = Date.now();
    sessions.create({ idHash: sha256('a'), userId: user.id, createdAt: now, expiresAt: now + 60 * MINUTE, address: null, userAgent: null });
    expect(sut.validSession(sha256('a'), now + 29 * MINUTE)?.id).toBe(user.id);
    // The check above touched last-seen, so idleness counts from then.
    expect(sut.validSession(sha256('a'), now + 58 * MINUTE)?.id).toBe(user.id);
    expect(sut.validSession(sha256('a'), now + 61 * MINUTE)).toBeNull();
    expect(sessions.byHash(sha256('a'))).toBeNull();

    sessions.create({ idHash: sha256('b'), userId: user.id, createdAt: now, expiresAt: now + 60 * MINUTE, address: null, userAgent: null });
    expect(sut.validSession(sha256('b'), now + 31 * MINUTE)).toBeNull();
  });

  it('refuses the session of a disabled user', () => {
    const { sut, users, sessions, redis } = setup();
    redisClients.push(redis);
    const user = users.create({ username: 'u', passwordHash: null, role: 'viewer', origin: 'local' });
    sessions.create({ idHash: sha256('a'), userId: user.id, createdAt: Date.now(), expiresAt: Date.now() + MINUTE, address: null, userAgent: null });
    users.update(user.id, { disabled: true });
    expect(sut.validSession(sha256('a'))).toBeNull();
  });

  it.each([
    ['admins', 'admin'],
    ['users, ops', 'operator'],
    ['users', 'viewer'],
    ['', 'viewer'],
  ])('maps proxy groups %j to %s, creating the user on first sight', async (groups, role) => {
    const { sut, users, redis } = setup({ mode: 'proxy' });
    redisClients.push(redis);
    const resolved = await sut.resolve({ headers: { 'remote-user': 'alice', 'remote-groups': groups }, peer: '10.1.2.3' });
    expect(resolved?.identity).toMatchObject({ mode: 'proxy', role, user: { username: 'alice' } });
    expect(users.byUsername('alice')?.origin).toBe('proxy');
  });

  it('ignores proxy headers from an untrusted peer and malformed user names', async () => {
    const { sut, redis } = setup({ mode: 'proxy' });
    redisClients.push(redis);
    expect(await sut.resolve({ headers: { 'remote-user': 'alice', 'remote-groups': 'admins' }, peer: '192.168.1.5' })).toBeNull();
    expect(await sut.resolve({ headers: { 'remote-user': 'a b<script>' }, peer: '10.0.0.1' })).toBeNull();
  });

  it('believes identity passed through the internal web hop only when a trusted proxy set it', async () => {
    const { sut, redis } = setup({ mode: 'proxy' });
    redisClients.push(redis);
    const forged = { 'remote-user': 'mallory', 'remote-groups': 'admins' };
    // Browser → web container (172.30.0.5) → gateway, no trusted proxy on the way.
    expect(await sut.resolve({ headers: { ...forged, 'x-forwarded-for': '192.168.1.50' }, peer: '172.30.0.5' })).toBeNull();
    // The same with a forged X-Forwarded-For naming the trusted proxy: the web hop appended the real peer.
    expect(await sut.resolve({ headers: { ...forged, 'x-forwarded-for': '10.0.0.7, 192.168.1.50' }, peer: '172.30.0.5' })).toBeNull();
    // Browser → trusted proxy (10.0.0.7) → web container → gateway.
    const real = await sut.resolve({ headers: { 'remote-user': 'alice', 'remote-groups': 'admins', 'x-forwarded-for': '192.168.1.50, 10.0.0.7' }, peer: '172.30.0.5' });
    expect(real?.identity).toMatchObject({ role: 'admin', user: { username: 'alice' } });
    expect(sut.clientAddress({ headers: { 'x-forwarded-for': '192.168.1.50, 10.0.0.7' }, peer: '172.30.0.5' })).toBe('192.168.1.50');
  });

  it('believes X-Forwarded-For only from trusted proxies', () => {
    const { sut, redis } = setup();
    redisClients.push(redis);
    const headers = { 'x-forwarded-for': '203.0.113.9' };
    expect(sut.clientAddress({ headers, peer: '10.0.0.2' })).toBe('203.0.113.9');
    expect(sut.clientAddress({ headers, peer: '192.168.1.5' })).toBe('192.168.1.5');
  });

  it('revoking a user ends their sessions and disconnects their sockets', () => {
    const { sut, users, sessions, kicked, redis } = setup();
    redisClients.push(redis);
    const user = users.create({ username: 'u', passwordHash: null, role: 'viewer', origin: 'local' });
    sessions.create({ idHash: sha256('a'), userId: user.id, createdAt: Date.now(), expiresAt: Date.now() + MINUTE, address: null, userAgent: null });
    expect(sut.revokeUserSessions(user.id)).toBe(1);
    expect(kicked).toEqual([`user:${user.id}`]);
  });
});
