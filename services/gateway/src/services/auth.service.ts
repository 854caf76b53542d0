import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseCookies } from 'cookie';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import {
  AppError,
  ErrorCode,
  SESSION_COOKIE,
  type ConnectionIdentity,
  type Me,
  type Role,
  type SessionView,
  type UserView,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { AuthConfig } from '../config.js';
import type { ProxyTrust } from '../repositories/proxy-trust.js';
import type { SessionRecord, SessionRepository } from '../repositories/session.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';
import type { UserRecord, UserRepository } from '../repositories/user.repository.js';
import { hashPassword, verifyPassword } from './password-hasher.js';

/** Ends open sockets on every replica (through the Socket.IO Redis adapter). */
export interface SocketKicker {
  kickUser(userId: string): void;
  kickSession(idHash: string): void;
}

/** Who sent an HTTP request or opened a socket, as far as the TCP peer and trusted proxies tell. */
export interface RequestOrigin {
  headers: IncomingHttpHeaders;
  /** The TCP peer address. */
  peer: string;
}

/** The outcome of resolving a request's identity. */
export interface ResolvedIdentity {
  identity: ConnectionIdentity;
  /** SHA-256 hex of the session id (local mode). */
  sessionHash: string | null;
}

/** Failed sign-ins allowed per address and per user name within the window. */
const SIGN_IN_LIMITS = { perAddress: 20, perUser: 10, windowSec: 15 * 60 };
/** A session's last-seen time is written at most this often. */
const TOUCH_EVERY_MS = 60_000;
const SETUP_TOKENS_KEY = 'auth.setupTokenHashes';

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export interface AuthServiceDeps {
  config: AuthConfig;
  users: UserRepository;
  sessions: SessionRepository;
  state: StateRepository;
  redis: Redis;
  /** Which peers' forwarding and identity headers are believed. */
  proxies: ProxyTrust;
  kicker: SocketKicker;
  logger: Logger;
}

/**
 * Identity for every request: sign-in with argon2id-hashed passwords and server-side sessions
 * (`local`), headers from a trusted reverse proxy (`proxy`), or nobody (`none`, everyone admin).
 * Users and sessions live in SQLite, so every replica agrees; when one changes, the user's open
 * sockets are disconnected on every replica and reconnect with what is true now.
 */
export class AuthService {
  private readonly deps: AuthServiceDeps;
  private readonly log: Logger;
  private readonly limitByAddress: RateLimiterRedis;
  private readonly limitByUser: RateLimiterRedis;

  constructor(deps: AuthServiceDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'auth' });
    // Failed sign-ins are counted in Redis so replicas share them; without Redis, per replica.
    const limiter = (keyPrefix: string, points: number): RateLimiterRedis =>
      new RateLimiterRedis({
        storeClient: deps.redis,
        useRedisPackage: false,
        keyPrefix,
        points,
        duration: SIGN_IN_LIMITS.windowSec,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: SIGN_IN_LIMITS.windowSec }),
      });
    this.limitByAddress = limiter('llamaproxy:signin:addr', SIGN_IN_LIMITS.perAddress);
    this.limitByUser = limiter('llamaproxy:signin:user', SIGN_IN_LIMITS.perUser);
  }

  get mode(): AuthConfig['mode'] {
    return this.deps.config.mode;
  }

  /** The client's address: the TCP peer, or what trusted proxies forwarded (X-Forwarded-For). */
  clientAddress(req: RequestOrigin): string {
    return this.deps.proxies.clientAddress(req.headers, req.peer);
  }

  /** The host the browser asked for: `X-Forwarded-Host` from a trusted peer, else `Host`. */
  requestHost(req: RequestOrigin): string | undefined {
    const forwarded = req.headers['x-forwarded-host'];
    if (typeof forwarded === 'string' && forwarded.length > 0 && this.deps.proxies.forwards(req.peer)) {
      return forwarded.split(',')[0]?.trim();
    }
    return req.headers.host;
  }

  /** True when the request came over HTTPS (directly, or per `X-Forwarded-Proto` from a trusted peer). */
  isHttps(req: RequestOrigin, encrypted: boolean): boolean {
    const proto = req.headers['x-forwarded-proto'];
    if (typeof proto === 'string' && this.deps.proxies.forwards(req.peer)) {
      return proto.split(',')[0]?.trim() === 'https';
    }
    return encrypted;
  }

  /**
   * At start: logs a warning in `none` mode; in `local` mode with no user, creates the first admin
   * from ADMIN_USERNAME/ADMIN_PASSWORD(_FILE), or prints a one-time setup token.
   */
  async bootstrap(): Promise<void> {
    const { config, users, state } = this.deps;
    if (config.mode === 'none') {
      this.log.warn('AUTH_MODE=none: sign-in is off and every connection is an admin; use it only on a trusted machine');
      return;
    }
    if (config.mode !== 'local' || users.count() > 0) {
      return;
    }
    if (config.bootstrapAdmin !== null) {
      const passwordHash = await hashPassword(config.bootstrapAdmin.password);
      const created = users.transaction(() =>
        users.count() === 0 ? users.create({ username: config.bootstrapAdmin!.username, passwordHash, role: 'admin', origin: 'local' }) : null,
      );
      if (created !== null) {
        this.log.info('first admin created from the environment', { username: created.username });
      }
      return;
    }
    const token = randomBytes(24).toString('hex');
    const known = state.getMeta(SETUP_TOKENS_KEY, SetupHashes) ?? [];
    state.setMeta(SETUP_TOKENS_KEY, [...known.slice(-7), sha256(token)]);
    // The one secret that must reach the log: it is how the operator proves they run this host.
    this.log.warn('first-run setup token', { token, hint: 'open the dashboard and create the first admin with this token' });
  }

  /** True while no user exists in `local` mode (the web app then offers first-admin setup). */
  setupRequired(): boolean {
    return this.deps.config.mode === 'local' && this.deps.users.count() === 0;
  }

  /** Creates the first admin with a setup token from the log; returns a new session id. */
  async setup(token: string, username: string, password: string, req: RequestOrigin): Promise<{ sessionId: string; user: Me }> {
    const { users, state } = this.deps;
    const hashes = state.getMeta(SETUP_TOKENS_KEY, SetupHashes) ?? [];
    const given = Buffer.from(sha256(token), 'hex');
    const known = hashes.some((h) => timingSafeEqual(Buffer.from(h, 'hex'), given));
    if (!this.setupRequired() || !known) {
      throw new AppError(ErrorCode.SETUP_UNAVAILABLE, 'setup is not available: a user exists, or the token is not the one in the gateway log');
    }
    const passwordHash = await hashPassword(password);
    const user = users.transaction(() => (users.count() === 0 ? users.create({ username, passwordHash, role: 'admin', origin: 'local' }) : null));
    if (user === null) {
      throw new AppError(ErrorCode.SETUP_UNAVAILABLE, 'setup is not available: a user exists');
    }
    state.setMeta(SETUP_TOKENS_KEY, []);
    return { sessionId: this.startSession(user, req), user: toMe(user) };
  }

  /**
   * Signs a user in. Unknown user and wrong password give the same error after the same work;
   * failures are counted per address and per user name (RATE_LIMITED with retryAfterMs beyond).
   */
  async signIn(username: string, password: string, req: RequestOrigin): Promise<{ sessionId: string; user: Me }> {
    if (this.deps.config.mode !== 'local') {
      throw new AppError(ErrorCode.VALIDATION_FAILED, `sign-in with a password is not used in AUTH_MODE=${this.deps.config.mode}`);
    }
    const address = this.clientAddress(req);
    const userKey = username.toLowerCase();
    const [byAddress, byUser] = await Promise.all([this.limitByAddress.get(address), this.limitByUser.get(userKey)]);
    const blocked = [
      byAddress !== null && byAddress.consumedPoints >= SIGN_IN_LIMITS.perAddress ? byAddress : null,
      byUser !== null && byUser.consumedPoints >= SIGN_IN_LIMITS.perUser ? byUser : null,
    ].filter((r): r is RateLimiterRes => r !== null);
    if (blocked.length > 0) {
      const retryAfterMs = Math.max(...blocked.map((r) => r.msBeforeNext));
      throw new AppError(ErrorCode.RATE_LIMITED, 'too many failed sign-ins; try again later', { retryAfterMs });
    }
    const user = this.deps.users.byUsername(username);
    const ok = await verifyPassword(user?.passwordHash ?? null, password);
    if (user === null || !ok || user.disabled) {
      await Promise.all([this.limitByAddress.penalty(address, 1), this.limitByUser.penalty(userKey, 1)]).catch(() => undefined);
      throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'wrong user name or password');
    }
    await this.limitByUser.delete(userKey).catch(() => undefined);
    return { sessionId: this.startSession(user, req), user: toMe(user) };
  }

  /** Changes the caller's own password (needs the current one); ends their other sessions. */
  async changePassword(userId: string, currentSessionHash: string | null, current: string, next: string): Promise<void> {
    const user = this.deps.users.byId(userId);
    if (user === null || !(await verifyPassword(user.passwordHash, current))) {
      throw new AppError(ErrorCode.INVALID_CREDENTIALS, 'the current password is wrong');
    }
    this.deps.users.update(userId, { passwordHash: await hashPassword(next) });
    for (const session of this.deps.sessions.list(userId)) {
      if (session.idHash !== currentSessionHash) {
        this.revokeSession(session.idHash);
      }
    }
  }

  /** Ends one session (sign-out); its sockets disconnect everywhere. */
  revokeSession(idHash: string): boolean {
    const removed = this.deps.sessions.delete(idHash);
    this.deps.kicker.kickSession(idHash);
    return removed;
  }

  /** Ends every session of a user; their sockets disconnect everywhere. */
  revokeUserSessions(userId: string): number {
    const n = this.deps.sessions.deleteForUser(userId);
    this.deps.kicker.kickUser(userId);
    return n;
  }

  /** Disconnects a user's sockets everywhere (they reconnect with their current role). */
  kickUser(userId: string): void {
    this.deps.kicker.kickUser(userId);
  }

  /** Session id from the request's cookie header. */
  sessionIdFrom(headers: IncomingHttpHeaders): string | null {
    const header = headers.cookie;
    if (header === undefined) {
      return null;
    }
    const value = parseCookies(header)[SESSION_COOKIE];
    return value !== undefined && /^[A-Za-z0-9_-]{43}$/.test(value) ? value : null;
  }

  /**
   * Who is asking, by the auth mode: the session cookie (local), the proxy's headers from a
   * trusted peer (proxy), or an anonymous admin (none). Null when nobody is signed in.
   */
  async resolve(req: RequestOrigin): Promise<ResolvedIdentity | null> {
    const { mode } = this.deps.config;
    switch (mode) {
      case 'none':
        return { identity: { mode, user: null, role: 'admin' }, sessionHash: null };
      case 'local': {
        const id = this.sessionIdFrom(req.headers);
        if (id === null) {
          return null;
        }
        const idHash = sha256(id);
        const user = this.validSession(idHash);
        return user === null ? null : { identity: { mode, user: toMe(user), role: user.role }, sessionHash: idHash };
      }
      case 'proxy':
        return this.resolveProxy(req);
    }
  }

  /**
   * The session's user when the session exists, is within its idle and absolute expiry, and the
   * user is enabled; touches its last-seen time (at most once a minute). Null otherwise.
   */
  validSession(idHash: string, now = Date.now()): UserRecord | null {
    const session = this.deps.sessions.byHash(idHash);
    if (session === null) {
      return null;
    }
    if (session.expiresAt <= now || session.lastSeenAt + this.deps.config.sessionIdleMs <= now) {
      this.deps.sessions.delete(idHash);
      return null;
    }
    const user = this.deps.users.byId(session.userId);
    if (user === null || user.disabled) {
      return null;
    }
    if (now - session.lastSeenAt >= TOUCH_EVERY_MS) {
      this.deps.sessions.touch(idHash, now);
      this.deps.users.touch(user.id, now);
    }
    return user;
  }

  /** Sessions as admins see them; `currentHash` marks the caller's own. */
  sessionViews(userId: string | undefined, currentHash: string | null): SessionView[] {
    return this.deps.sessions.list(userId).map((s) => toSessionView(s, currentHash));
  }

  /** Removes expired and idle sessions and disconnects their sockets. */
  pruneSessions(now = Date.now()): number {
    const stale = this.deps.sessions.list().filter((s) => s.expiresAt <= now || s.lastSeenAt + this.deps.config.sessionIdleMs <= now);
    for (const s of stale) {
      this.revokeSession(s.idHash);
    }
    return stale.length;
  }

  /** Cookie attributes for a new session (the caller sets `Secure` when the request came over HTTPS). */
  get sessionMaxAgeSec(): number {
    return Math.floor(this.deps.config.sessionMaxMs / 1000);
  }

  private startSession(user: UserRecord, req: RequestOrigin): string {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const agent = req.headers['user-agent'];
    this.deps.sessions.create({
      idHash: sha256(id),
      userId: user.id,
      createdAt: now,
      expiresAt: now + this.deps.config.sessionMaxMs,
      address: this.clientAddress(req),
      userAgent: typeof agent === 'string' ? agent.slice(0, 256) : null,
    });
    this.deps.users.touch(user.id, now);
    return id;
  }

  private resolveProxy(req: RequestOrigin): ResolvedIdentity | null {
    const { proxy } = this.deps.config;
    if (!this.deps.proxies.vouchedByTrustedProxy(req.headers, req.peer)) {
      // Identity headers not set by a proxy in TRUSTED_PROXIES are ignored: anyone could send them.
      return null;
    }
    const name = headerValue(req.headers[proxy.userHeader]);
    if (name === null || !/^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$/.test(name)) {
      return null;
    }
    const groups = (headerValue(req.headers[proxy.groupsHeader]) ?? '').split(',').map((g) => g.trim()).filter((g) => g.length > 0);
    const role: Role = groups.some((g) => proxy.adminGroups.includes(g)) ? 'admin' : groups.some((g) => proxy.operatorGroups.includes(g)) ? 'operator' : 'viewer';
    const { users } = this.deps;
    const user = users.transaction(() => {
      const known = users.byUsername(name);
      if (known === null) {
        return users.create({ username: name, passwordHash: null, role, origin: 'proxy' });
      }
      // The proxy's groups are the truth for proxy users; a local user keeps the role set here.
      return known.origin === 'proxy' && known.role !== role ? users.update(known.id, { role }) : known;
    });
    if (user === null || user.disabled) {
      return null;
    }
    users.touch(user.id);
    return { identity: { mode: 'proxy', user: toMe(user), role: user.role }, sessionHash: null };
  }
}

/** Hashes of the setup tokens printed by replicas since no user exists (each replica prints one). */
const SetupHashes = z.array(z.string().regex(/^[0-9a-f]{64}$/));

function headerValue(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v.trim() === '' ? null : v.trim();
}

export function toMe(user: UserRecord | UserView): Me {
  return { id: user.id, username: user.username, role: user.role };
}

function toSessionView(s: SessionRecord, currentHash: string | null): SessionView {
  return {
    handle: s.idHash.slice(0, 16),
    userId: s.userId,
    username: s.username,
    createdAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    expiresAt: s.expiresAt,
    address: s.address,
    userAgent: s.userAgent,
    current: s.idHash === currentHash,
  };
}
