import { randomBytes, randomUUID } from 'node:crypto';
import { AppError, API_KEY_PATTERN, API_KEY_PREFIX_LENGTH, ErrorCode, type ApiKeyLimits, type ApiKeyView, type ConnectionIdentity } from '@llamaproxy/shared';
import type { ApiKeyRecord, ApiKeyRepository } from '../repositories/api-key.repository.js';
import { sha256 } from './auth.service.js';

/** Who a `/v1` request speaks for: a key (with its owner) or a dashboard session. */
export interface ApiPrincipal {
  keyId: string | null;
  keyName: string | null;
  userId: string | null;
  username: string | null;
  /** Model ids the caller may use; null: every model. */
  models: string[] | null;
  limits: ApiKeyLimits;
}

/** A key from `API_KEYS` / `API_KEYS_FILE`: every model, no limits, no owner, not editable here. */
interface EnvironmentKey {
  id: string;
  name: string;
  hash: string;
  prefix: string;
}

const NO_LIMITS: ApiKeyLimits = { requestsPerMinute: null, tokensPerMinute: null };

/** What `apikeys:create` asks for, parsed. */
export interface ApiKeyCreateInput {
  name: string;
  userId?: string | undefined;
  models: string[] | null;
  expiresAt: number | null;
  limits: ApiKeyLimits;
}

/**
 * API keys of the `/v1` endpoint. A key is `lap-` + 256 random bits (base64url); only its SHA-256
 * is stored, and every request looks it up in SQLite (one indexed read, microseconds), so a
 * revocation or a disabled owner takes effect at once on every replica without a cache to
 * invalidate. Argon2 is for passwords, which are guessable; a 256-bit random key is not, and a
 * slow hash on every request would only cost latency.
 */
export class ApiKeysService {
  private readonly repo: ApiKeyRepository;
  private readonly environment: readonly EnvironmentKey[];
  /** Last-used times not yet written (flushed with the activity batch). */
  private readonly lastUsed = new Map<string, number>();
  private readonly now: () => number;

  /** Whether API_KEYS_SELF_SERVICE is on: every signed-in user may manage their own keys (`apikeys:own:*`). */
  readonly selfService: boolean;

  constructor(repo: ApiKeyRepository, environmentKeys: readonly string[], now: () => number = Date.now, options: { selfService?: boolean } = {}) {
    this.repo = repo;
    this.now = now;
    this.selfService = options.selfService ?? false;
    this.environment = environmentKeys.map((key, index) => {
      const hash = sha256(key);
      return { id: `env-${hash.slice(0, 12)}`, name: `environment key ${index + 1}`, hash, prefix: key.slice(0, API_KEY_PREFIX_LENGTH) };
    });
  }

  /** The principal for a presented key; null when it is unknown, revoked, expired or its owner is disabled. */
  authenticate(secret: string): ApiPrincipal | null {
    const hash = sha256(secret);
    const fromEnv = this.environment.find((k) => k.hash === hash);
    if (fromEnv !== undefined) {
      return { keyId: fromEnv.id, keyName: fromEnv.name, userId: null, username: null, models: null, limits: NO_LIMITS };
    }
    if (!API_KEY_PATTERN.test(secret)) {
      return null;
    }
    const key = this.repo.byHash(hash);
    if (key === null || key.revokedAt !== null || key.ownerDisabled || (key.expiresAt !== null && key.expiresAt <= this.now())) {
      return null;
    }
    this.lastUsed.set(key.id, this.now());
    return { keyId: key.id, keyName: key.name, userId: key.userId, username: key.username, models: key.models, limits: key.limits };
  }

  /** Writes the last-used times gathered since the last call. */
  flushLastUsed(): void {
    if (this.lastUsed.size === 0) {
      return;
    }
    const batch = new Map(this.lastUsed);
    this.lastUsed.clear();
    this.repo.touchMany(batch);
  }

  /** Keys the caller may see: an admin every key (and the environment's), others their own. */
  list(identity: ConnectionIdentity): ApiKeyView[] {
    const own = identity.role === 'admin' ? this.repo.list() : identity.user === null ? [] : this.repo.list(identity.user.id);
    const env = identity.role === 'admin' ? this.environment.map((k) => this.environmentView(k)) : [];
    return [...own.map(toView), ...env];
  }

  /** Creates a key for the caller, or (admins) for `input.userId`; returns the key once. The role table lets operators and admins ask. */
  create(input: ApiKeyCreateInput, identity: ConnectionIdentity): { key: ApiKeyView; secret: string } {
    const ownerId = input.userId ?? identity.user?.id ?? null;
    if (ownerId !== (identity.user?.id ?? null) && identity.role !== 'admin') {
      throw new AppError(ErrorCode.OWNER_ONLY, 'only admins create keys for other users');
    }
    if (input.expiresAt !== null && input.expiresAt <= this.now()) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'expiresAt: the expiry is in the past');
    }
    const secret = `lap-${randomBytes(32).toString('base64url')}`;
    try {
      const record = this.repo.create({
        id: randomUUID(),
        name: input.name,
        keyHash: sha256(secret),
        prefix: secret.slice(0, API_KEY_PREFIX_LENGTH),
        userId: ownerId,
        models: input.models === null ? null : [...new Set(input.models)],
        expiresAt: input.expiresAt,
        limits: input.limits,
        createdAt: this.now(),
      });
      return { key: toView(record), secret };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new AppError(ErrorCode.USER_NOT_FOUND, 'no such user');
      }
      throw err;
    }
  }

  /**
   * The self-service rule (`apikeys:own:*`): allowed only while API_KEYS_SELF_SERVICE is on, and
   * only to a signed-in user, who then acts as the owner of the keys alone (never as an admin).
   * Returns the identity to act with: the caller's, with the role no higher than viewer's reach
   * here, so `create` cannot name another owner and `revoke` finds only the caller's own keys.
   */
  ownIdentity(identity: ConnectionIdentity): ConnectionIdentity {
    if (!this.selfService) {
      throw new AppError(ErrorCode.SELF_SERVICE_OFF, 'self-service API keys are off (API_KEYS_SELF_SERVICE); ask an admin for a key');
    }
    if (identity.user === null) {
      throw new AppError(ErrorCode.SELF_SERVICE_OFF, 'self-service API keys are for signed-in users (with sign-in off, every caller is an admin: use the API keys page as one)');
    }
    return { ...identity, role: 'viewer' };
  }

  /** Revokes a key (its owner or an admin); it fails on every replica from the next request on. */
  revoke(keyId: string, identity: ConnectionIdentity): ApiKeyView {
    if (this.environment.some((k) => k.id === keyId)) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'a key from the environment (API_KEYS) is removed there, not here');
    }
    const key = this.repo.byId(keyId);
    if (key === null || (identity.role !== 'admin' && key.userId !== identity.user?.id)) {
      throw new AppError(ErrorCode.API_KEY_NOT_FOUND, 'no such key');
    }
    this.repo.revoke(keyId, this.now());
    return toView(this.repo.byId(keyId)!);
  }

  private environmentView(k: EnvironmentKey): ApiKeyView {
    return {
      id: k.id, name: k.name, prefix: k.prefix, userId: null, username: null, models: null, expiresAt: null,
      limits: NO_LIMITS, createdAt: 0, lastUsedAt: null, revokedAt: null, source: 'environment',
    };
  }
}

function toView(r: ApiKeyRecord): ApiKeyView {
  return {
    id: r.id, name: r.name, prefix: r.prefix, userId: r.userId, username: r.username, models: r.models, expiresAt: r.expiresAt,
    limits: r.limits, createdAt: r.createdAt, lastUsedAt: r.lastUsedAt, revokedAt: r.revokedAt, source: 'database',
  };
}
