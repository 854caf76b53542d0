import type { Db } from '../db/database.js';

/** A stored session: only the SHA-256 (hex) of its id is kept. */
export interface SessionRecord {
  idHash: string;
  userId: string;
  username: string;
  createdAt: number;
  lastSeenAt: number;
  /** The absolute expiry (sign-in time + SESSION_MAX_DAYS). */
  expiresAt: number;
  address: string | null;
  userAgent: string | null;
}

interface SessionRow {
  id_hash: string;
  user_id: string;
  username: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  address: string | null;
  user_agent: string | null;
}

const toRecord = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  userId: r.user_id,
  username: r.username,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
  address: r.address,
  userAgent: r.user_agent,
});

const SELECT = 'SELECT s.*, u.username FROM sessions s JOIN users u ON u.id = s.user_id';

/** Sign-in sessions in SQLite, shared by every gateway replica. */
export class SessionRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  create(session: Omit<SessionRecord, 'username' | 'lastSeenAt'>): void {
    this.db
      .prepare('INSERT INTO sessions (id_hash, user_id, created_at, last_seen_at, expires_at, address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(session.idHash, session.userId, session.createdAt, session.createdAt, session.expiresAt, session.address, session.userAgent);
  }

  byHash(idHash: string): SessionRecord | null {
    const row = this.db.prepare(`${SELECT} WHERE s.id_hash = ?`).get(idHash) as SessionRow | undefined;
    return row ? toRecord(row) : null;
  }

  /** Sessions whose hash starts with `handle` (the 16-hex-digit prefix shown to admins). */
  byHandle(handle: string): SessionRecord | null {
    const row = this.db.prepare(`${SELECT} WHERE s.id_hash >= ? AND s.id_hash < ? LIMIT 1`).get(handle, `${handle}g`) as SessionRow | undefined;
    return row ? toRecord(row) : null;
  }

  list(userId?: string): SessionRecord[] {
    const rows = (userId === undefined
      ? this.db.prepare(`${SELECT} ORDER BY s.last_seen_at DESC`).all()
      : this.db.prepare(`${SELECT} WHERE s.user_id = ? ORDER BY s.last_seen_at DESC`).all(userId)) as SessionRow[];
    return rows.map(toRecord);
  }

  touch(idHash: string, at: number): void {
    this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?').run(at, idHash);
  }

  delete(idHash: string): boolean {
    return this.db.prepare('DELETE FROM sessions WHERE id_hash = ?').run(idHash).changes > 0;
  }

  /** Ends every session of a user; returns how many there were. */
  deleteForUser(userId: string): number {
    return this.db.prepare('DELETE FROM sessions WHERE user_id = ?').run(userId).changes;
  }

  /** Removes sessions past their absolute expiry or idle for longer than `idleMs`. */
  prune(now: number, idleMs: number): number {
    return this.db.prepare('DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?').run(now, now - idleMs).changes;
  }
}
