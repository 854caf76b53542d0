import { randomUUID } from 'node:crypto';
import type { AuthMode, Role, UserView } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/** A stored user, with the password hash (argon2id PHC string) that never leaves the gateway. */
export interface UserRecord extends UserView {
  passwordHash: string | null;
}

interface UserRow {
  id: string;
  username: string;
  password_hash: string | null;
  role: Role;
  disabled: number;
  origin: AuthMode;
  created_at: number;
  last_seen_at: number | null;
}

const toRecord = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  role: r.role,
  disabled: r.disabled === 1,
  origin: r.origin,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
});

/** Public view of a record: everything but the hash. */
export function toUserView(user: UserRecord): UserView {
  const { passwordHash: _hash, ...view } = user;
  return view;
}

/** Users in SQLite. User names are unique regardless of case. */
export class UserRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  list(): UserRecord[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toRecord);
  }

  byId(id: string): UserRecord | null {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row ? toRecord(row) : null;
  }

  byUsername(username: string): UserRecord | null {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row ? toRecord(row) : null;
  }

  /** Inserts a user; throws SQLite's UNIQUE error when the name is taken (callers check first). */
  create(user: { username: string; passwordHash: string | null; role: Role; origin: AuthMode }): UserRecord {
    const now = Date.now();
    const id = randomUUID();
    this.db
      .prepare('INSERT INTO users (id, username, password_hash, role, disabled, origin, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, ?, ?)')
      .run(id, user.username, user.passwordHash, user.role, user.origin, now, now);
    return this.byId(id) as UserRecord;
  }

  update(id: string, patch: { role?: Role; disabled?: boolean; passwordHash?: string }): UserRecord | null {
    const current = this.byId(id);
    if (current === null) {
      return null;
    }
    this.db
      .prepare('UPDATE users SET role = ?, disabled = ?, password_hash = ?, updated_at = ? WHERE id = ?')
      .run(patch.role ?? current.role, (patch.disabled ?? current.disabled) ? 1 : 0, patch.passwordHash ?? current.passwordHash, Date.now(), id);
    return this.byId(id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM users WHERE id = ?').run(id).changes > 0;
  }

  /** Enabled admins, to keep at least one. */
  enabledAdmins(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND disabled = 0").get() as { n: number }).n;
  }

  touch(id: string, at = Date.now()): void {
    this.db.prepare('UPDATE users SET last_seen_at = ? WHERE id = ?').run(at, id);
  }

  /** Runs `fn` in one immediate transaction (a check and its write cannot interleave with another replica's). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
