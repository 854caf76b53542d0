import { CAPTURE_DEFAULTS, type CapturedExchange, type CaptureSettings } from '@llamaproxy/shared';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.js';

/** One request's captured sides, as the proxy gathered them (already cut at the byte bound). */
export interface CaptureInput {
  request: string;
  requestTruncated: boolean;
  response: string;
  responseTruncated: boolean;
}

interface CaptureRow {
  activity_id: number;
  ts: number;
  request: string;
  request_truncated: number;
  response: string;
  response_truncated: number;
}

/**
 * The capture buffer's storage, shared by every replica through the database: the settings row
 * (read by each `/v1` request, one primary-key read), and the captures, bounded by the settings.
 * Storing re-reads the settings in the same transaction, so nothing is kept once capture is off.
 */
export class CaptureRepository {
  private readonly db: Db;
  /** The settings read, prepared once on first use (every `/v1` request runs it). */
  private selectSettings: Statement<[]> | null = null;

  constructor(db: Db) {
    this.db = db;
  }

  /** The settings (the defaults, capture off, until an admin changed them). */
  settings(): CaptureSettings {
    this.selectSettings ??= this.db.prepare<[]>('SELECT enabled, max_requests, max_bytes FROM api_capture_settings WHERE id = 1');
    const row = this.selectSettings.get() as
      | { enabled: number; max_requests: number; max_bytes: number }
      | undefined;
    return row === undefined ? CAPTURE_DEFAULTS : { enabled: row.enabled === 1, maxRequests: row.max_requests, maxBytes: row.max_bytes };
  }

  /** Saves the settings; turning capture off deletes every capture, fewer requests drops the oldest. Returns how many are kept. */
  saveSettings(settings: CaptureSettings, now = Date.now()): number {
    return this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO api_capture_settings (id, enabled, max_requests, max_bytes, updated_at) VALUES (1, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, max_requests = excluded.max_requests, max_bytes = excluded.max_bytes, updated_at = excluded.updated_at`,
        )
        .run(settings.enabled ? 1 : 0, settings.maxRequests, settings.maxBytes, now);
      if (!settings.enabled) {
        this.db.prepare('DELETE FROM api_captures').run();
      } else {
        this.trim(settings.maxRequests);
      }
      return this.count();
    }).immediate();
  }

  /** Stores captures of stored activity records, if capture is still on, keeping only the newest `maxRequests`. */
  store(items: readonly { activityId: number; ts: number; capture: CaptureInput }[]): void {
    if (items.length === 0) {
      return;
    }
    this.db.transaction(() => {
      const settings = this.settings();
      if (!settings.enabled) {
        return;
      }
      const insert = this.db.prepare(
        'INSERT OR REPLACE INTO api_captures (activity_id, ts, request, request_truncated, response, response_truncated) VALUES (?, ?, ?, ?, ?, ?)',
      );
      for (const { activityId, ts, capture: c } of items.slice(-settings.maxRequests)) {
        // Cut again here: the bound may have been lowered since the request began.
        insert.run(activityId, ts, c.request.slice(0, settings.maxBytes), c.requestTruncated || c.request.length > settings.maxBytes ? 1 : 0,
          c.response.slice(0, settings.maxBytes), c.responseTruncated || c.response.length > settings.maxBytes ? 1 : 0);
      }
      this.trim(settings.maxRequests);
    }).immediate();
  }

  /** The capture of one activity record, or null. */
  get(activityId: number): CapturedExchange | null {
    const row = this.db.prepare('SELECT * FROM api_captures WHERE activity_id = ?').get(activityId) as CaptureRow | undefined;
    return row === undefined
      ? null
      : { activityId: row.activity_id, ts: row.ts, request: row.request, requestTruncated: row.request_truncated === 1, response: row.response, responseTruncated: row.response_truncated === 1 };
  }

  /** How many requests' captures are kept now. */
  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM api_captures').get() as { n: number }).n;
  }

  private trim(keep: number): void {
    this.db.prepare('DELETE FROM api_captures WHERE activity_id <= (SELECT activity_id FROM api_captures ORDER BY activity_id DESC LIMIT 1 OFFSET ?)').run(keep);
  }
}
