import type { ApiKeyLimits } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/** A stored API key (its hash, never the key) with its owner's name and state. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  keyHash: string;
  prefix: string;
  userId: string | null;
  username: string | null;
  /** True when the owner is disabled: the key then fails like a revoked one. */
  ownerDisabled: boolean;
  models: string[] | null;
  expiresAt: number | null;
  limits: ApiKeyLimits;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface ApiKeyRow {
  id: string;
  name: string;
  key_hash: string;
  prefix: string;
  user_id: string | null;
  username: string | null;
  disabled: number | null;
  models: string | null;
  expires_at: number | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toRecord = (r: ApiKeyRow): ApiKeyRecord => ({
  id: r.id,
  name: r.name,
  keyHash: r.key_hash,
  prefix: r.prefix,
  userId: r.user_id,
  username: r.username,
  ownerDisabled: r.disabled === 1,
  models: r.models === null ? null : (JSON.parse(r.models) as string[]),
  expiresAt: r.expires_at,
  limits: { requestsPerMinute: r.requests_per_minute, tokensPerMinute: r.tokens_per_minute },
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

const SELECT = 'SELECT k.*, u.username, u.disabled FROM api_keys k LEFT JOIN users u ON u.id = k.user_id';

/** API keys in SQLite, shared by every gateway replica (so a revocation holds everywhere at once). */
export class ApiKeyRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  create(key: Omit<ApiKeyRecord, 'username' | 'ownerDisabled' | 'lastUsedAt' | 'revokedAt'>): ApiKeyRecord {
    this.db
      .prepare(
        `INSERT INTO api_keys (id, name, key_hash, prefix, user_id, models, expires_at, requests_per_minute, tokens_per_minute, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(key.id, key.name, key.keyHash, key.prefix, key.userId, key.models === null ? null : JSON.stringify(key.models), key.expiresAt, key.limits.requestsPerMinute, key.limits.tokensPerMinute, key.createdAt);
    return this.byId(key.id)!;
  }

  /** One indexed lookup; the gateway does it on every `/v1` request. */
  byHash(keyHash: string): ApiKeyRecord | null {
    const row = this.db.prepare(`${SELECT} WHERE k.key_hash = ?`).get(keyHash) as ApiKeyRow | undefined;
    return row ? toRecord(row) : null;
  }

  byId(id: string): ApiKeyRecord | null {
    const row = this.db.prepare(`${SELECT} WHERE k.id = ?`).get(id) as ApiKeyRow | undefined;
    return row ? toRecord(row) : null;
  }

  /** Every key, or one user's, newest first. */
  list(userId?: string): ApiKeyRecord[] {
    const rows = (userId === undefined
      ? this.db.prepare(`${SELECT} ORDER BY k.created_at DESC`).all()
      : this.db.prepare(`${SELECT} WHERE k.user_id = ? ORDER BY k.created_at DESC`).all(userId)) as ApiKeyRow[];
    return rows.map(toRecord);
  }

  /** Marks a key revoked (kept, so the activity still names it); false when it was already. */
  revoke(id: string, now = Date.now()): boolean {
    return this.db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes > 0;
  }

  /** Writes last-used times collected since the previous call, in one transaction. */
  touchMany(lastUsed: ReadonlyMap<string, number>): void {
    const stmt = this.db.prepare('UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?');
    this.db.transaction(() => {
      for (const [id, ts] of lastUsed) {
        stmt.run(ts, id);
      }
    })();
  }
}
