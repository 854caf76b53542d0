import type { AuditEntry, AuditOutcome } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/** What an audit record holds before it has an id. */
export type AuditRecord = Omit<AuditEntry, 'id'>;

export interface AuditQuery {
  username?: string | undefined;
  /** An exact event name, or a prefix ending in `:` (`users:`). */
  event?: string | undefined;
  outcome?: AuditOutcome | undefined;
  from?: number | undefined;
  to?: number | undefined;
  beforeId?: number | undefined;
  limit: number;
}

interface AuditRow {
  id: number;
  ts: number;
  user_id: string | null;
  username: string | null;
  role: AuditEntry['role'];
  address: string | null;
  event: string;
  target: string | null;
  summary: string;
  outcome: AuditOutcome;
  error_code: string | null;
  request_id: string | null;
}

const toEntry = (r: AuditRow): AuditEntry => ({
  id: r.id,
  ts: r.ts,
  userId: r.user_id,
  username: r.username,
  role: r.role,
  address: r.address,
  event: r.event,
  target: r.target,
  summary: r.summary,
  outcome: r.outcome,
  errorCode: r.error_code,
  requestId: r.request_id,
});

/** The audit log: append-only but for retention. */
export class AuditRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  insert(record: AuditRecord): AuditEntry {
    const result = this.db
      .prepare(
        'INSERT INTO audit_log (ts, user_id, username, role, address, event, target, summary, outcome, error_code, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(record.ts, record.userId, record.username, record.role, record.address, record.event, record.target, record.summary, record.outcome, record.errorCode, record.requestId);
    return { id: Number(result.lastInsertRowid), ...record };
  }

  /** Newest first; served by the (ts), (username, id) and (event, id) indexes. */
  query(q: AuditQuery): { entries: AuditEntry[]; hasMore: boolean } {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.username !== undefined) {
      where.push('username = ?');
      params.push(q.username);
    }
    if (q.event !== undefined) {
      if (q.event.endsWith(':')) {
        where.push('event >= ? AND event < ?');
        params.push(q.event, `${q.event.slice(0, -1)};`);
      } else {
        where.push('event = ?');
        params.push(q.event);
      }
    }
    if (q.outcome !== undefined) {
      where.push('outcome = ?');
      params.push(q.outcome);
    }
    if (q.from !== undefined) {
      where.push('ts >= ?');
      params.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('ts <= ?');
      params.push(q.to);
    }
    if (q.beforeId !== undefined) {
      where.push('id < ?');
      params.push(q.beforeId);
    }
    const sql = `SELECT * FROM audit_log ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit + 1) as AuditRow[];
    return { entries: rows.slice(0, q.limit).map(toEntry), hasMore: rows.length > q.limit };
  }

  /** Deletes records older than `maxAgeMs`; returns how many. */
  prune(maxAgeMs: number, now = Date.now()): number {
    return this.db.prepare('DELETE FROM audit_log WHERE ts < ?').run(now - maxAgeMs).changes;
  }
}
