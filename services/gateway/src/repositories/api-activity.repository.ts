import type { ActivityRecord, UsageRow } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

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

  /** Stores a batch in one transaction. */
  insertMany(records: readonly Omit<ActivityRecord, 'id'>[]): void {
    const stmt = this.db.prepare(
      `INSERT INTO api_requests (ts, key_id, key_name, user_id, username, model, endpoint, status, stream, prompt_tokens, cached_tokens,
         completion_tokens, ttft_ms, tokens_per_sec, duration_ms, address, error)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const r of records) {
        stmt.run(r.ts, r.keyId, r.keyName, r.userId, r.username, r.model, r.endpoint, r.status, r.stream ? 1 : 0, r.promptTokens, r.cachedTokens,
          r.completionTokens, r.ttftMs, r.tokensPerSec, r.durationMs, r.address, r.error);
      }
    })();
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

  /** Totals per UTC day, key, user and model in [from, to). */
  usage(from: number, to: number, userId?: string): UsageRow[] {
    const rows = this.db
      .prepare(
        `SELECT strftime('%Y-%m-%d', ts / 1000, 'unixepoch') AS day, key_id, MAX(key_name) AS key_name, MAX(username) AS username, model,
           COUNT(*) AS requests, SUM(CASE WHEN status BETWEEN 200 AND 299 THEN 0 ELSE 1 END) AS errors,
           COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(completion_tokens), 0) AS completion_tokens
         FROM api_requests WHERE ts >= ? AND ts < ? ${userId === undefined ? '' : 'AND user_id = ?'}
         GROUP BY day, key_id, user_id, model ORDER BY day DESC, requests DESC`,
      )
      .all(...(userId === undefined ? [from, to] : [from, to, userId])) as {
      day: string; key_id: string | null; key_name: string | null; username: string | null; model: string | null;
      requests: number; errors: number; prompt_tokens: number; completion_tokens: number;
    }[];
    return rows.map((r) => ({
      day: r.day, keyId: r.key_id, keyName: r.key_name, username: r.username, model: r.model,
      requests: r.requests, errors: r.errors, promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens,
    }));
  }

  /** Removes records older than `maxAgeMs`. */
  prune(maxAgeMs: number, now = Date.now()): number {
    return this.db.prepare('DELETE FROM api_requests WHERE ts < ?').run(now - maxAgeMs).changes;
  }
}
