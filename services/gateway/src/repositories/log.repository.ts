import type { LogEntry, LogLevel, LogRecord, LogSource } from '@llamaproxy/shared';
import { LOG_LEVEL_RANK } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';
import { LOG_FTS_PARTITION_LINES, LogFtsPartitions, trigramMatch, type LogFtsPartition } from './log-fts-partitions.js';

interface LogRow {
  id: number;
  ts: number;
  level: LogLevel;
  source: LogSource;
  node_id: string | null;
  model_id: string | null;
  message: string;
}

/** A `logs:query` request: filters, an optional cursor, and the page size. */
export interface LogQuery {
  level?: LogLevel | undefined;
  source?: LogSource | undefined;
  modelId?: string | undefined;
  nodeId?: string | undefined;
  text?: string | undefined;
  /** Lines whose `ts` is at or after / at or before these (ms since the epoch). */
  from?: number | undefined;
  to?: number | undefined;
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

/**
 * A text search that the trigram index cannot answer (no run of 3 or more characters between the
 * `%` and `_` it contains) scans the messages of at most this many of the newest lines (ids above
 * the newest id minus this), instead of the whole table.
 */
export const LOG_SCAN_WINDOW_ROWS = 50_000;

/**
 * Index matches of a text search examined at once. When the newest this many matches hold too few
 * lines that also pass the level/source/model filters, the filters' index answers instead.
 */
export const LOG_TEXT_CANDIDATES = 5_000;

/**
 * Debug lines are kept this long (ms), however many lines the row cap allows: they are mostly the
 * router's "proxying request" line of our own services' polls (see `LogRepository.prune`), and the
 * rest (a request's own proxy line) matters while it is fresh.
 */
export const LOG_DEBUG_MAX_AGE_MS = 86_400_000;

/**
 * How far out of time order (ms) lines may be stored: ids follow the order lines are stored in,
 * `ts` is each service's own clock. A time range is read as an id range found through the `ts`
 * index, widened by this much on both sides, and then checked line by line; a line stored more
 * than this out of order (e.g. a node that buffered its lines through a long Redis outage) may be
 * missed at the edges of a range.
 */
export const LOG_TIME_SLACK_MS = 15 * 60_000;

/**
 * Lines removed per prune at most (`LogRepository.prune`). Since migration 11 a removal no longer
 * touches the full-text index (its partitions are dropped whole), only the table and its b-tree
 * indexes; the bound keeps one prune short (see `npm run bench -- scale` for the worst tick). The
 * gateway prunes every minute: this keeps up with 120,000 new lines an hour, eight times a busy
 * router's rate.
 */
export const LOG_PRUNE_MAX_LINES = 2_000;

/**
 * A text search with a filter whose lines are all of one level (or of any) first checks the text
 * on at most this many of the filter's newest lines: a common text with a rare filter ("task" in
 * errors) is answered there, without reading the text's long full-text index entries.
 */
export const LOG_FILTER_PROBE_ROWS = 2_000;

/** The bounds of `LogRepository.query`'s plans (see the constants above), and the full-text partition size. */
export interface LogQueryLimits {
  scanWindowRows: number;
  textCandidates: number;
  filterProbeRows: number;
  /** Ids per full-text partition (LOG_FTS_PARTITION_LINES). */
  partitionLines: number;
}

const LEVELS = Object.keys(LOG_LEVEL_RANK) as LogLevel[];

/** LIKE pattern for a literal substring, with `ESCAPE '\'`. */
const likeLiteral = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Whether the trigram index can narrow `LIKE '%text%'`: a run of 3+ characters without `%`/`_`. */
export function trigramSearchable(text: string): boolean {
  return text.split(/[%_]/).some((run) => [...run].length >= 3);
}

interface Clause {
  sql: string;
  params: (string | number)[];
}

/** The level set a query keeps (null: every level), and its source/model/node/time conditions on `l`. */
interface Filters {
  levels: LogLevel[] | null;
  clauses: Clause[];
}

/** Exclusive id bounds of a query: its cursor and its time range together; undefined: open. */
interface IdRange {
  above?: number | undefined;
  below?: number | undefined;
  /** The time range's own upper bound (without the cursor), when `to` is given. */
  timeBelow?: number | undefined;
}

/**
 * Stored log lines; ids increase monotonically and are the clients' resume cursor.
 * Migration 3 indexes level/source/model together with id, so that every query reads an index in id
 * order; the trigram full-text index over `message` is partitioned by id (migration 11,
 * `LogFtsPartitions`), kept by `insert`, and dropped a whole partition at a time by `prune`.
 */
export class LogRepository {
  private readonly db: Db;
  private readonly limits: LogQueryLimits;
  private readonly fts: LogFtsPartitions;

  /** `limits` exist for tests (small tables); the defaults are the LOG_* constants above and LOG_FTS_PARTITION_LINES. */
  constructor(db: Db, limits: Partial<LogQueryLimits> = {}) {
    this.db = db;
    this.limits = {
      scanWindowRows: LOG_SCAN_WINDOW_ROWS,
      textCandidates: LOG_TEXT_CANDIDATES,
      filterProbeRows: LOG_FILTER_PROBE_ROWS,
      partitionLines: LOG_FTS_PARTITION_LINES,
      ...limits,
    };
    this.fts = new LogFtsPartitions(db, this.limits.partitionLines);
  }

  /** Inserts records and indexes their text (in one transaction, nested in the caller's); returns them with their ids. */
  insert(records: LogRecord[]): LogEntry[] {
    const stmt = this.db.prepare(
      'INSERT INTO logs (ts, level, source, node_id, model_id, message) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const run = this.db.transaction((): LogEntry[] => {
      const entries = records.map((r) => {
        const info = stmt.run(r.ts, r.level, r.source, r.nodeId, r.modelId, r.message);
        return { ...r, id: Number(info.lastInsertRowid) };
      });
      this.fts.index(entries);
      this.countLines(entries.length);
      return entries;
    });
    return run();
  }

  /**
   * `afterId`: entries after the cursor, oldest first (resume, live tail).
   * Otherwise: newest first, before `beforeId` when given (scrolling back).
   * `level` keeps that level and worse; `text` is a case-insensitive (ASCII) substring, `%` and `_`
   * literal; `nodeId` one node's lines; `from`/`to` a time range (see LOG_TIME_SLACK_MS). Returns at
   * most `limit` entries and whether more match beyond them.
   *
   * Plans, each reading an index in id order and stopping at `limit + 1` rows:
   * - no text: the level/source/model index (migration 3), or the table itself;
   * - text with a run of 3+ characters: the newest LOG_TEXT_CANDIDATES trigram-index matches, checked
   *   against the filters; when they hold too few, the filters' indexes with the text checked per
   *   row (or, without filters, the full-text index to its end);
   * - shorter text (or only `%`/`_` between short runs): the newest LOG_SCAN_WINDOW_ROWS lines only
   *   (of the time range, when one is given), scanned; older lines are not searched for it.
   * A time range narrows every plan to an id range (two seeks in the `ts` index); a node is read
   * from its own index when it is the only filter besides the level, and checked per row otherwise.
   * One read transaction: the full-text partitions listed at its start stay readable to its end,
   * even if another replica's prune drops one meanwhile.
   */
  query(q: LogQuery): { entries: LogEntry[]; hasMore: boolean } {
    return this.db.transaction(() => this.queryInSnapshot(q))();
  }

  private queryInSnapshot(q: LogQuery): { entries: LogEntry[]; hasMore: boolean } {
    const ascending = q.afterId !== undefined;
    const filters = this.filterClauses(q);
    const range = this.idRange(q);
    const cursor = rangeClause(range, 'l.id');
    const page = q.limit + 1;
    let rows: LogRow[];
    if (range.above !== undefined && range.below !== undefined && range.above + 1 >= range.below) {
      rows = [];
    } else if (q.text === undefined || q.text === '') {
      rows = this.selectFiltered(filters, [cursor], ascending, page);
    } else if (!trigramSearchable(q.text)) {
      const floor = (range.timeBelow ?? this.latestId() + 1) - 1 - this.limits.scanWindowRows;
      rows = this.selectFiltered(filters, [cursor, { sql: 'l.id > ?', params: [floor] }, textClause(q.text)], ascending, page);
    } else {
      rows = this.searchText(q.text, filters, range, ascending, page);
    }
    const hasMore = rows.length > q.limit;
    return { entries: rows.slice(0, q.limit).map(toEntry), hasMore };
  }

  /**
   * How many lines are stored (kept in `logs_stats` by insert, prune and clear: COUNT(*) would read
   * a whole index).
   */
  lineCount(): number {
    return (this.db.prepare('SELECT line_count FROM logs_stats WHERE id = 1').pluck().get() as number | undefined) ?? 0;
  }

  /** Adds `delta` to the stored line count (inside the write transaction that changed the lines). */
  private countLines(delta: number): void {
    if (delta !== 0) {
      this.db.prepare('UPDATE logs_stats SET line_count = line_count + ? WHERE id = 1').run(delta);
    }
  }

  latestId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS id FROM logs').get() as { id: number }).id;
  }

  /**
   * Deletes every line and drops every full-text partition, in one write transaction; returns how
   * many lines. The table has no triggers, so the DELETE truncates it at once.
   */
  clear(): number {
    const run = this.db.transaction((): number => {
      const count = this.db.prepare('DELETE FROM logs').run().changes;
      this.fts.dropAll();
      this.db.prepare('UPDATE logs_stats SET line_count = 0').run();
      return count;
    });
    return run.immediate();
  }

  /**
   * Retention, in this order:
   * 1. every line older than `maxAgeMs`;
   * 2. debug lines older than `debugMaxAgeMs` (LOG_DEBUG_MAX_AGE_MS): most of them are the router's
   *    "proxying request" line of our own services' polls, 1 line per second per loaded model;
   * 3. beyond `maxRows` lines, the oldest debug lines first, then the oldest of any level.
   * At most `maxLines` lines in all per call (LOG_PRUNE_MAX_LINES), so a lowered retention is
   * applied over the next calls instead of holding the gateway. Each step reads an index: ages by
   * `logs_ts` (the debug cut is the id of the first line at or after the cut-off time), debug lines
   * by `logs_level_id`. A removal touches the table and its b-tree indexes only; then every full-text
   * partition none of whose lines is left is dropped whole (`LogFtsPartitions.dropEmpty`). All in
   * one write transaction. Returns how many lines were removed; the pages they and the dropped
   * partitions held are returned to the file system by `reclaimFreePages` (db/space.ts).
   */
  prune(maxRows: number, maxAgeMs: number, now = Date.now(), debugMaxAgeMs = LOG_DEBUG_MAX_AGE_MS, maxLines = LOG_PRUNE_MAX_LINES): number {
    const run = this.db.transaction((): number => {
      const removed = this.pruneLines(maxRows, maxAgeMs, now, debugMaxAgeMs, maxLines);
      this.countLines(-removed);
      this.fts.dropEmpty();
      return removed;
    });
    return run.immediate();
  }

  /** The row deletes of `prune`. */
  private pruneLines(maxRows: number, maxAgeMs: number, now: number, debugMaxAgeMs: number, maxLines: number): number {
    let budget = Math.max(0, maxLines);
    /** Deletes the first `cap` (and at most `budget`) lines `select` names. */
    const remove = (select: string, params: (string | number)[], cap = Number.POSITIVE_INFINITY): number => {
      const limit = Math.min(budget, cap);
      if (limit <= 0) {
        return 0;
      }
      // LIMIT -1: no limit (an unbounded budget).
      const changes = this.db.prepare(`DELETE FROM logs WHERE id IN (${select} LIMIT ?)`).run(...params, Number.isFinite(limit) ? Math.floor(limit) : -1).changes;
      budget -= changes;
      return changes;
    };
    let removed = remove('SELECT id FROM logs WHERE ts < ?', [now - maxAgeMs]);
    removed += remove("SELECT id FROM logs WHERE level = 'debug' AND id < ? ORDER BY id", [this.firstIdAtOrAfter(now - debugMaxAgeMs)]);
    // The count before this prune's removals so far (logs_stats), less them.
    const excess = this.lineCount() - removed - maxRows;
    if (excess > 0) {
      const debugRemoved = remove("SELECT id FROM logs WHERE level = 'debug' ORDER BY id", [], excess);
      removed += debugRemoved + remove('SELECT id FROM logs ORDER BY id', [], excess - debugRemoved);
    }
    return removed;
  }

  /** The id of the first line (in time order) at or after `ts`; past the newest id when none is. */
  private firstIdAtOrAfter(ts: number): number {
    const id = this.db.prepare('SELECT id FROM logs WHERE ts >= ? ORDER BY ts LIMIT 1').pluck().get(ts) as number | undefined;
    return id ?? this.latestId() + 1;
  }

  /** Level, source and model filters, written so that the composite indexes serve them. */
  private filterClauses(q: LogQuery): Filters {
    const clauses: Clause[] = [];
    let levels: LogLevel[] | null = null;
    if (q.level !== undefined) {
      const rank = LOG_LEVEL_RANK[q.level];
      levels = LEVELS.filter((name) => LOG_LEVEL_RANK[name] <= rank);
      // Every level is no filter at all (and must not steer the plan to a level index).
      if (levels.length === LEVELS.length) {
        levels = null;
      }
    }
    if (q.source !== undefined) {
      // With a model too, `+` keeps the source off the index choice: the model's index is narrower.
      clauses.push({ sql: q.modelId !== undefined ? '+l.source = ?' : 'l.source = ?', params: [q.source] });
    }
    if (q.modelId !== undefined) {
      clauses.push({ sql: 'l.model_id = ?', params: [q.modelId] });
    }
    if (q.nodeId !== undefined) {
      // Any other filter's index is preferred (one node usually holds every line).
      const alone = levels === null && q.source === undefined && q.modelId === undefined;
      clauses.push({ sql: alone ? 'l.node_id = ?' : '+l.node_id = ?', params: [q.nodeId] });
    }
    // `+`: the time is checked per row of the id range `idRange` found, never read through logs_ts.
    if (q.from !== undefined) {
      clauses.push({ sql: '+l.ts >= ?', params: [q.from] });
    }
    if (q.to !== undefined) {
      clauses.push({ sql: '+l.ts <= ?', params: [q.to] });
    }
    return { levels, clauses };
  }

  /**
   * The query's exclusive id bounds: its cursor, narrowed by its time range. The lower bound is the
   * id of the newest line (in time order) older than `from - LOG_TIME_SLACK_MS`, the upper one that
   * of the oldest line newer than `to + LOG_TIME_SLACK_MS`: one seek each in `logs_ts`.
   */
  private idRange(q: LogQuery): IdRange {
    let above = q.afterId;
    let below = q.beforeId;
    let timeBelow: number | undefined;
    if (q.from !== undefined) {
      const id = this.db.prepare('SELECT id FROM logs WHERE ts < ? ORDER BY ts DESC LIMIT 1').pluck().get(q.from - LOG_TIME_SLACK_MS) as number | undefined;
      if (id !== undefined) {
        above = Math.max(above ?? 0, id);
      }
    }
    if (q.to !== undefined) {
      const id = this.db.prepare('SELECT id FROM logs WHERE ts > ? ORDER BY ts LIMIT 1').pluck().get(q.to + LOG_TIME_SLACK_MS) as number | undefined;
      if (id !== undefined) {
        timeBelow = id;
        below = Math.min(below ?? Number.MAX_SAFE_INTEGER, id);
      }
    }
    return { above, below, timeBelow };
  }

  /**
   * Rows passing `filters` and `extra`, in id order, at most `page`. A level set is one branch per
   * level (`level = ?` with the other conditions: an exact seek into (level, source|model, id)),
   * each stopping at `page` rows, merged by id: with `level IN (...)` SQLite would rather walk the
   * source's or model's index in id order and test the level of every row, slow when the levels
   * are rare (`warn` on a busy llama-server).
   */
  private selectFiltered(filters: Filters, extra: Clause[], ascending: boolean, page: number): LogRow[] {
    const rest = [...filters.clauses, ...extra].filter((c) => c.sql !== '');
    if (filters.levels === null) {
      return this.select(rest, ascending, page);
    }
    const order = ascending ? 'ASC' : 'DESC';
    const branches = filters.levels.map((level) => {
      const where = [{ sql: 'l.level = ?', params: [level] }, ...rest];
      return {
        sql: `SELECT * FROM (SELECT l.* FROM logs l WHERE ${where.map((c) => c.sql).join(' AND ')} ORDER BY l.id ${order} LIMIT ?)`,
        params: [...where.flatMap((c) => c.params), page],
      };
    });
    const sql = `${branches.map((b) => b.sql).join(' UNION ALL ')} ORDER BY id ${order} LIMIT ?`;
    return this.db.prepare(sql).all(...branches.flatMap((b) => b.params), page) as LogRow[];
  }

  /** `SELECT l.* FROM <from> WHERE <clauses> ORDER BY <orderBy> LIMIT page`; `orderBy` names the id. */
  private select(clauses: Clause[], ascending: boolean, page: number, from = 'logs l', orderBy = 'l.id'): LogRow[] {
    const used = clauses.filter((c) => c.sql !== '');
    const where = used.length > 0 ? `WHERE ${used.map((c) => c.sql).join(' AND ')}` : '';
    const sql = `SELECT l.* FROM ${from} ${where} ORDER BY ${orderBy} ${ascending ? 'ASC' : 'DESC'} LIMIT ?`;
    return this.db.prepare(sql).all(...used.flatMap((c) => c.params), page) as LogRow[];
  }

  /** Text with a run of 3+ characters: through the trigram index's partitions, newest first (see `query`). */
  private searchText(text: string, filters: Filters, range: IdRange, ascending: boolean, page: number): LogRow[] {
    // The index narrows with the text's own `%`/`_` as wildcards (a superset); the literal LIKE decides.
    const match = trigramMatch(text) ?? '';
    const exact = textClause(text);
    const probed = this.probeFiltered(filters, range, exact, ascending, page);
    if (probed !== null) {
      return probed;
    }
    const groups = this.fts.groups(range, filters.levels, ascending);
    const candidates = this.ftsCandidates(groups, match, range, ascending, this.limits.textCandidates);
    const inCandidates: Clause = { sql: 'l.id IN (SELECT value FROM json_each(?))', params: [JSON.stringify(candidates)] };
    const levels: Clause[] = filters.levels === null ? [] : [{ sql: `l.level IN (${filters.levels.map(() => '?').join(', ')})`, params: filters.levels }];
    const rows = this.select([inCandidates, exact, ...levels, ...filters.clauses], ascending, page);
    // Complete when every match was a candidate, or when the newest candidates already fill the page.
    if (candidates.length < this.limits.textCandidates || rows.length >= page) {
      return rows;
    }
    if (filters.levels !== null || filters.clauses.length > 0) {
      return this.selectFiltered(filters, [rangeClause(range, 'l.id'), exact], ascending, page);
    }
    // The full-text index drives, partition after partition in id order (no sort of every match).
    const found: LogRow[] = [];
    for (const group of groups) {
      const order = ascending ? 'ASC' : 'DESC';
      const branches = group.map((p) => {
        const t = this.fts.table(p);
        const where = [{ sql: `${t} MATCH ?`, params: [match] }, rangeClause(range, `${t}.rowid`), exact].filter((c) => c.sql !== '');
        return {
          sql: `SELECT * FROM (SELECT l.* FROM ${t} CROSS JOIN logs l ON l.id = ${t}.rowid WHERE ${where.map((c) => c.sql).join(' AND ')} ORDER BY ${t}.rowid ${order} LIMIT ?)`,
          params: [...where.flatMap((c) => c.params), page - found.length],
        };
      });
      const sql = `${branches.map((b) => b.sql).join(' UNION ALL ')} ORDER BY id ${order} LIMIT ?`;
      found.push(...(this.db.prepare(sql).all(...branches.flatMap((b) => b.params), page - found.length) as LogRow[]));
      if (found.length >= page) {
        break;
      }
    }
    return found;
  }

  /**
   * The first `limit` ids (newest first, oldest first when `ascending`) in the id range that the
   * full-text partitions of `groups` match with `match` (a superset of the text's lines; lines
   * already pruned from a partition not yet dropped are among them and fall out at the join).
   */
  private ftsCandidates(groups: LogFtsPartition[][], match: string, range: IdRange, ascending: boolean, limit: number): number[] {
    const order = ascending ? 'ASC' : 'DESC';
    const ids: number[] = [];
    for (const group of groups) {
      const left = limit - ids.length;
      const branches = group.map((p) => {
        const t = this.fts.table(p);
        const cursor = rangeClause(range, 'rowid');
        return {
          sql: `SELECT * FROM (SELECT rowid AS id FROM ${t} WHERE ${t} MATCH ?${cursor.sql !== '' ? ` AND ${cursor.sql}` : ''} ORDER BY rowid ${order} LIMIT ?)`,
          params: [match, ...cursor.params, left],
        };
      });
      const sql = `${branches.map((b) => b.sql).join(' UNION ALL ')} ORDER BY id ${order} LIMIT ?`;
      ids.push(...(this.db.prepare(sql).pluck().all(...branches.flatMap((b) => b.params), left) as number[]));
      if (ids.length >= limit) {
        break;
      }
    }
    return ids;
  }

  /**
   * The text checked on the newest `filterProbeRows` lines of the filter (see LOG_FILTER_PROBE_ROWS):
   * their matches when they fill the page or when the filter has no more lines in the range (then
   * they are every match), else null. Only for a filter with at most one level: with several,
   * the newest lines of each level would not be the newest of all.
   */
  private probeFiltered(filters: Filters, range: IdRange, exact: Clause, ascending: boolean, page: number): LogRow[] | null {
    if ((filters.levels === null && filters.clauses.length === 0) || (filters.levels !== null && filters.levels.length > 1)) {
      return null;
    }
    const where = [...(filters.levels === null ? [] : [{ sql: 'l.level = ?', params: [filters.levels[0]] }]), ...filters.clauses, rangeClause(range, 'l.id')].filter(
      (c) => c.sql !== '',
    );
    const order = ascending ? 'ASC' : 'DESC';
    const newest = `SELECT l.* FROM logs l WHERE ${where.map((c) => c.sql).join(' AND ')} ORDER BY l.id ${order} LIMIT ?`;
    const params = [...where.flatMap((c) => c.params), this.limits.filterProbeRows];
    const text = exact.sql.replace('l.message', 'probe.message');
    const rows = this.db.prepare(`SELECT * FROM (${newest}) AS probe WHERE ${text} ORDER BY probe.id ${order} LIMIT ?`).all(...params, ...exact.params, page) as LogRow[];
    if (rows.length >= page) {
      return rows;
    }
    const probed = this.db.prepare(`SELECT COUNT(*) FROM (${newest})`).pluck().get(...params) as number;
    return probed < this.limits.filterProbeRows ? rows : null;
  }
}

/** The id range on `column`: above `range.above`, below `range.below`; empty when neither. */
function rangeClause(range: IdRange, column: string): Clause {
  const parts: Clause[] = [];
  if (range.above !== undefined) {
    parts.push({ sql: `${column} > ?`, params: [range.above] });
  }
  if (range.below !== undefined) {
    parts.push({ sql: `${column} < ?`, params: [range.below] });
  }
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) };
}

/** The literal substring condition on `l.message` (SQLite LIKE: ASCII case-insensitive). */
function textClause(text: string): Clause {
  return { sql: "l.message LIKE ? ESCAPE '\\'", params: [likeLiteral(text)] };
}
