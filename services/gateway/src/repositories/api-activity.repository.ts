import type { ActivityRecord, UsagePeriod, UsageRow } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

const DAY = 86_400_000;
/** Daily usage totals are small (one row per day and group) and kept for a year and a bit, for monthly charts. */
export const USAGE_RETENTION_MS = 400 * DAY;
/** The last day with a four-digit year: later ones would not compare as `YYYY-MM-DD` strings. */
const MAX_DATE_MS = Date.UTC(9999, 11, 31);

export interface ActivityFilter {
  model?: string | undefined;
  keyId?: string | undefined;
  /** Only this user's requests (non-admins). */
  userId?: string | undefined;
  status?: 'ok' | 'error' | number | undefined;
  afterId?: number | undefined;
  beforeId?: number | undefined;
  limit: number;
}

interface ActivityRow {
  id: number;
  ts: number;
  key_id: string | null;
  key_name: string | null;
  user_id: string | null;
  username: string | null;
  model: string | null;
  endpoint: string;
  status: number;
  stream: number;
  prompt_tokens: number | null;
  cached_tokens: number | null;
  completion_tokens: number | null;
  ttft_ms: number | null;
  tokens_per_sec: number | null;
  duration_ms: number;
  address: string | null;
  error: string | null;
}

const toRecord = (r: ActivityRow): ActivityRecord => ({
  id: r.id,
  ts: r.ts,
  keyId: r.key_id,
  keyName: r.key_name,
  userId: r.user_id,
  username: r.username,
  model: r.model,
  endpoint: r.endpoint,
  status: r.status,
  stream: r.stream === 1,
  promptTokens: r.prompt_tokens,
  cachedTokens: r.cached_tokens,
  completionTokens: r.completion_tokens,
  ttftMs: r.ttft_ms,
  tokensPerSec: r.tokens_per_sec,
  durationMs: r.duration_ms,
  address: r.address,
  error: r.error,
});

/** Requests to the `/v1` endpoint: written in batches by the gateway, read by the Activity page. */
export class ApiActivityRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * Stores a batch in one transaction, together with the daily usage totals it adds to; returns
   * the records with their ids, in the order given.
   */
  insertMany(records: readonly Omit<ActivityRecord, 'id'>[]): ActivityRecord[] {
    const stmt = this.db.prepare(
      `INSERT INTO api_requests (ts, key_id, key_name, user_id, username, model, endpoint, status, stream, prompt_tokens, cached_tokens,
         completion_tokens, ttft_ms, tokens_per_sec, duration_ms, address, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const total = this.db.prepare(
      `INSERT INTO api_usage_daily (day, key_id, user_id, model, key_name, username, requests, errors, prompt_tokens, completion_tokens)
       VALUES (strftime('%Y-%m-%d', ? / 1000, 'unixepoch'), ?, ?, ?, ?, ?, 1, ?, ?, ?)
       ON CONFLICT (day, key_id, user_id, model) DO UPDATE SET
         key_name = COALESCE(excluded.key_name, key_name), username = COALESCE(excluded.username, username),
         requests = requests + 1, errors = errors + excluded.errors,
         prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens`,
    );
    return this.db.transaction(() =>
      records.map((r): ActivityRecord => {
        const { lastInsertRowid } = stmt.run(r.ts, r.keyId, r.keyName, r.userId, r.username, r.model, r.endpoint, r.status, r.stream ? 1 : 0, r.promptTokens,
          r.cachedTokens, r.completionTokens, r.ttftMs, r.tokensPerSec, r.durationMs, r.address, r.error);
        total.run(r.ts, r.keyId ?? '', r.userId ?? '', r.model ?? '', r.keyName, r.username, r.status >= 200 && r.status <= 299 ? 0 : 1,
          r.promptTokens ?? 0, r.completionTokens ?? 0);
        return { id: Number(lastInsertRowid), ...r };
      }),
    )();
  }

  /** Newest first; `afterId` gives what is newer than the table shows, `beforeId` scrolls back. */
  query(filter: ActivityFilter): { records: ActivityRecord[]; hasMore: boolean } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const eq = (column: string, value: string | number | undefined): void => {
      if (value !== undefined) {
        where.push(`${column} = ?`);
        args.push(value);
      }
    };
    eq('model', filter.model);
    eq('key_id', filter.keyId);
    eq('user_id', filter.userId);
    if (filter.status === 'ok') {
      where.push('status BETWEEN 200 AND 299');
    } else if (filter.status === 'error') {
      where.push('(status < 200 OR status > 299)');
    } else {
      eq('status', filter.status);
    }
    if (filter.afterId !== undefined) {
      where.push('id > ?');
      args.push(filter.afterId);
    }
    if (filter.beforeId !== undefined) {
      where.push('id < ?');
      args.push(filter.beforeId);
    }
    const sql = `SELECT * FROM api_requests ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, filter.limit + 1) as ActivityRow[];
    return { records: rows.slice(0, filter.limit).map(toRecord), hasMore: rows.length > filter.limit };
  }

  /**
   * Totals per period, key, user and model over the UTC days that [from, to) (epoch ms) touches,
   * newest period first. Reads the daily totals, so its cost
   * follows the days and groups it returns, not the requests behind them.
   */
  usage(from: number, to: number, period: UsagePeriod, userId?: string): UsageRow[] {
    const bucket = {
      day: 'day',
      // SQLite's 'weekday 1' moves forward to a Monday, so step back six days first.
      week: "date(day, '-6 days', 'weekday 1')",
      month: "strftime('%Y-%m-01', day)",
    }[period];
    // Clamped to four-digit years: the schema lets any non-negative integer through.
    const day = (ms: number): string => new Date(Math.min(Math.max(ms, 0), MAX_DATE_MS)).toISOString().slice(0, 10);
    const rows = this.db
      .prepare(
        `SELECT ${bucket} AS bucket, key_id, MAX(key_name) AS key_name, user_id, MAX(username) AS username, model,
           SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens
         FROM api_usage_daily WHERE day >= ? AND day < ? ${userId === undefined ? '' : 'AND user_id = ?'}
         GROUP BY bucket, key_id, user_id, model ORDER BY bucket DESC, requests DESC, model, key_id, user_id`,
      )
      .all(...(userId === undefined ? [day(from), day(to + DAY - 1)] : [day(from), day(to + DAY - 1), userId])) as {
      bucket: string; key_id: string; key_name: string | null; user_id: string; username: string | null; model: string;
      requests: number; errors: number; prompt_tokens: number; completion_tokens: number;
    }[];
    const orNull = (v: string): string | null => (v === '' ? null : v);
    return rows.map((r) => ({
      day: r.bucket, keyId: orNull(r.key_id), keyName: r.key_name, userId: orNull(r.user_id), username: r.username, model: orNull(r.model),
      requests: r.requests, errors: r.errors, promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens,
    }));
  }

  /** Removes records older than `maxAgeMs`, and daily totals older than USAGE_RETENTION_MS (or `maxAgeMs`, when longer). */
  prune(maxAgeMs: number, now = Date.now()): number {
    const totalsBefore = new Date(now - Math.max(maxAgeMs, USAGE_RETENTION_MS)).toISOString().slice(0, 10);
    this.db.prepare('DELETE FROM api_usage_daily WHERE day < ?').run(totalsBefore);
    return this.db.prepare('DELETE FROM api_requests WHERE ts < ?').run(now - maxAgeMs).changes;
  }
}
