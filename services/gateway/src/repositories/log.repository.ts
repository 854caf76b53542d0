import type { LogEntry, LogLevel, LogRecord, LogSource } from '@llamaproxy/shared';
import { LOG_LEVEL_RANK } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

interface LogRow {
  id: number;
  ts: number;
  level: LogLevel;
  source: LogSource;
  node_id: string | null;
  model_id: string | null;
  message: string;
}

export interface LogQuery {
  level?: LogLevel | undefined;
  source?: LogSource | undefined;
  modelId?: string | undefined;
  text?: string | undefined;
  afterId?: number | undefined;
  beforeId?: number | undefined;
  limit: number;
}

const toEntry = (r: LogRow): LogEntry => ({
  id: r.id,
  ts: r.ts,
  level: r.level,
  source: r.source,
  nodeId: r.node_id,
  modelId: r.model_id,
  message: r.message,
});

/** Stored log lines; ids increase monotonically and are the clients' resume cursor. */
export class LogRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Inserts records (call inside the ingest transaction); returns them with their ids. */
  insert(records: LogRecord[]): LogEntry[] {
    const stmt = this.db.prepare(
      'INSERT INTO logs (ts, level, source, node_id, model_id, message) VALUES (?, ?, ?, ?, ?, ?)',
    );
    return records.map((r) => {
      const info = stmt.run(r.ts, r.level, r.source, r.nodeId, r.modelId, r.message);
      return { ...r, id: Number(info.lastInsertRowid) };
    });
  }

  /**
   * `afterId`: entries after the cursor, oldest first (resume, live tail).
   * Otherwise: newest first, before `beforeId` when given (scrolling back).
   */
  query(q: LogQuery): { entries: LogEntry[]; hasMore: boolean } {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (q.level !== undefined) {
      const levels = Object.entries(LOG_LEVEL_RANK)
        .filter(([, rank]) => rank <= LOG_LEVEL_RANK[q.level as LogLevel])
        .map(([name]) => name);
      where.push(`level IN (${levels.map(() => '?').join(', ')})`);
      params.push(...levels);
    }
    if (q.source !== undefined) {
      where.push('source = ?');
      params.push(q.source);
    }
    if (q.modelId !== undefined) {
      where.push('model_id = ?');
      params.push(q.modelId);
    }
    if (q.text !== undefined && q.text !== '') {
      where.push("message LIKE ? ESCAPE '\\'");
      params.push(`%${q.text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    const ascending = q.afterId !== undefined;
    if (q.afterId !== undefined) {
      where.push('id > ?');
      params.push(q.afterId);
    }
    if (q.beforeId !== undefined) {
      where.push('id < ?');
      params.push(q.beforeId);
    }
    const sql = `SELECT * FROM logs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${ascending ? 'ASC' : 'DESC'} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...params, q.limit + 1) as LogRow[];
    const hasMore = rows.length > q.limit;
    return { entries: rows.slice(0, q.limit).map(toEntry), hasMore };
  }

  latestId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM logs').get() as { id: number }).id;
  }

  clear(): number {
    return this.db.prepare('DELETE FROM logs').run().changes;
  }

  /** Keeps at most `maxRows` lines and none older than `maxAgeMs`. */
  prune(maxRows: number, maxAgeMs: number, now = Date.now()): number {
    let removed = this.db.prepare('DELETE FROM logs WHERE ts < ?').run(now - maxAgeMs).changes;
    const cutoff = this.db.prepare('SELECT id FROM logs ORDER BY id DESC LIMIT 1 OFFSET ?').get(maxRows) as { id: number } | undefined;
    if (cutoff) {
      removed += this.db.prepare('DELETE FROM logs WHERE id <= ?').run(cutoff.id).changes;
    }
    return removed;
  }
}
