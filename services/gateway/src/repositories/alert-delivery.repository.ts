import type { AlertEventKind, DeliveryStatus, DeliveryView } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

interface DeliveryRow {
  id: number;
  ts: number;
  message_id: string;
  event: string;
  rule_id: string;
  rule_name: string;
  subject: string;
  channel_id: string;
  channel_name: string;
  status: string;
  attempts: number;
  last_error: string | null;
  updated_at: number;
}

export interface NewDelivery {
  messageId: string;
  event: AlertEventKind;
  ruleId: string;
  ruleName: string;
  subject: string;
  channelId: string;
  channelName: string;
}

/** The delivery history: one row per notification and channel, updated after every attempt. */
export class AlertDeliveryRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Adds a queued delivery; null when this notification was already recorded for this channel. */
  add(d: NewDelivery, now = Date.now()): number | null {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO alert_deliveries (ts, message_id, event, rule_id, rule_name, subject, channel_id, channel_name, status, attempts, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?)`,
      )
      .run(now, d.messageId, d.event, d.ruleId, d.ruleName, d.subject, d.channelId, d.channelName, now);
    return result.changes === 0 ? null : Number(result.lastInsertRowid);
  }

  /** Records the outcome of an attempt (`attempts`: attempts made so far). */
  update(id: number, status: DeliveryStatus, attempts: number, error: string | null, now = Date.now()): void {
    this.db
      .prepare('UPDATE alert_deliveries SET status = ?, attempts = ?, last_error = COALESCE(?, last_error), updated_at = ? WHERE id = ?')
      .run(status, attempts, error?.slice(0, 500) ?? null, now, id);
  }

  get(id: number): DeliveryView | null {
    const row = this.db.prepare('SELECT * FROM alert_deliveries WHERE id = ?').get(id) as DeliveryRow | undefined;
    return row ? toView(row) : null;
  }

  /** Newest first; `beforeId` pages back. */
  query(filter: { ruleId?: string; channelId?: string; beforeId?: number; limit: number }): { entries: DeliveryView[]; hasMore: boolean } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.ruleId !== undefined) {
      where.push('rule_id = ?');
      args.push(filter.ruleId);
    }
    if (filter.channelId !== undefined) {
      where.push('channel_id = ?');
      args.push(filter.channelId);
    }
    if (filter.beforeId !== undefined) {
      where.push('id < ?');
      args.push(filter.beforeId);
    }
    const sql = `SELECT * FROM alert_deliveries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, filter.limit + 1) as DeliveryRow[];
    return { entries: rows.slice(0, filter.limit).map(toView), hasMore: rows.length > filter.limit };
  }

  prune(maxAgeMs: number, now = Date.now()): number {
    return this.db.prepare('DELETE FROM alert_deliveries WHERE ts < ?').run(now - maxAgeMs).changes;
  }
}

function toView(r: DeliveryRow): DeliveryView {
  return {
    id: r.id,
    ts: r.ts,
    messageId: r.message_id,
    event: r.event as AlertEventKind,
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    subject: r.subject,
    channelId: r.channel_id,
    channelName: r.channel_name,
    status: r.status as DeliveryStatus,
    attempts: r.attempts,
    lastError: r.last_error,
    updatedAt: r.updated_at,
  };
}
