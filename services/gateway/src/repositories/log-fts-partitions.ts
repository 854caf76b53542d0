import type { Statement } from 'better-sqlite3';
import type { LogLevel } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

/**
 * Ids per full-text partition (migration 11): line `id` is indexed in partition
 * `floor(id / LOG_FTS_PARTITION_LINES)`. A partition is dropped whole once none of its lines is
 * left, so the index holds at most one partly pruned partition per class beyond the kept lines.
 * 65,536 lines make partitions of about 4-8 MB (a few thousand pages, dropped in milliseconds) and
 * keep a search at 1.5M lines (the default cap) to about 25 partitions per class.
 */
export const LOG_FTS_PARTITION_LINES = 65_536;

/** Which lines a partition indexes: debug lines, the other levels, or every level (the index before migration 11). */
export type LogFtsClass = 'all' | 'debug' | 'other';

/** One full-text partition: an FTS5 table over the lines with ids in `[firstId, lastId]` of its class. */
export interface LogFtsPartition {
  name: string;
  class: LogFtsClass;
  firstId: number;
  lastId: number;
}

interface PartitionRow {
  name: string;
  class: LogFtsClass;
  first_id: number;
  last_id: number;
}

/** A safe SQL identifier for a partition name (they are ours: `logs_fts`, `logs_fts_<n>`, `logs_fts_<n>_debug`). */
const ident = (name: string): string => {
  if (!/^logs_fts(_\d+(_debug)?)?$/.test(name)) {
    throw new Error(`not a log full-text partition: ${name}`);
  }
  return `"${name}"`;
};

/**
 * The FTS5 query that narrows a LIKE pattern (`%` and `_` wildcards) through the trigram index: every
 * distinct trigram of its runs of 3+ characters, ANDed, each quoted (one token, read from the index
 * alone, so contentless tables answer it). A superset of the lines LIKE matches (case is folded by the
 * tokenizer); null when the pattern has no run of 3+ characters.
 */
export function trigramMatch(pattern: string): string | null {
  const grams = new Set<string>();
  for (const run of pattern.split(/[%_]/)) {
    const chars = [...run];
    for (let i = 0; i + 3 <= chars.length; i++) {
      grams.add(chars.slice(i, i + 3).join('').toLowerCase());
    }
  }
  if (grams.size === 0) {
    return null;
  }
  return [...grams].map((g) => `"${g.replace(/"/g, '""')}"`).join(' AND ');
}

/**
 * The log lines' full-text index, partitioned by id (migration 11): contentless trigram FTS5 tables
 * (`detail=none`, `columnsize=0`: rowids only, no copy of the text), created as lines arrive and
 * dropped whole by `dropEmpty`, which returns their pages at once (no per-line FTS5 delete, no
 * delete markers waiting for merges). Debug lines have partitions of their own because retention
 * keeps them a shorter time. The catalogue `logs_fts_partitions` lists them; every change to it and
 * to the tables is made in the caller's write transaction, so replicas see both or neither.
 */
export class LogFtsPartitions {
  private readonly db: Db;
  private readonly partitionLines: number;
  private readonly inserts = new Map<string, Statement<[number, string]>>();

  /** `partitionLines`: ids per partition (LOG_FTS_PARTITION_LINES; smaller in tests). */
  constructor(db: Db, partitionLines = LOG_FTS_PARTITION_LINES) {
    this.db = db;
    this.partitionLines = Math.max(1, Math.floor(partitionLines));
  }

  /**
   * Indexes lines just stored (call inside the insert's transaction), creating their partitions as
   * needed. `lines`: id, level and message of each.
   */
  index(lines: readonly { id: number; level: LogLevel; message: string }[]): void {
    const known = new Set<string>();
    for (const line of lines) {
      const k = Math.floor(line.id / this.partitionLines);
      const cls: LogFtsClass = line.level === 'debug' ? 'debug' : 'other';
      const name = cls === 'debug' ? `logs_fts_${k}_debug` : `logs_fts_${k}`;
      if (!known.has(name)) {
        this.ensure(name, cls, k);
        known.add(name);
      }
      let stmt = this.inserts.get(name);
      if (stmt === undefined) {
        stmt = this.db.prepare<[number, string]>(`INSERT INTO ${ident(name)} (rowid, message) VALUES (?, ?)`);
        this.inserts.set(name, stmt);
      }
      stmt.run(line.id, line.message);
    }
  }

  /**
   * The partitions that may hold lines with ids above `above` and below `below` (exclusive, open when
   * undefined), of the given levels (null: every level), newest first (oldest first when `ascending`),
   * grouped: partitions in one group cover the same ids (a debug one and the other levels'), and every
   * id of a group is above every id of the groups after it (below, when ascending).
   */
  groups(range: { above?: number | undefined; below?: number | undefined }, levels: readonly LogLevel[] | null, ascending: boolean): LogFtsPartition[][] {
    const rows = this.db.prepare('SELECT name, class, first_id, last_id FROM logs_fts_partitions ORDER BY last_id').all() as PartitionRow[];
    const wantDebug = levels === null || levels.includes('debug');
    const byLast = new Map<number, LogFtsPartition[]>();
    for (const r of rows) {
      if ((r.class === 'debug' && !wantDebug) || (range.above !== undefined && r.last_id <= range.above) || (range.below !== undefined && r.first_id >= range.below)) {
        continue;
      }
      const group = byLast.get(r.last_id) ?? [];
      group.push({ name: r.name, class: r.class, firstId: r.first_id, lastId: r.last_id });
      byLast.set(r.last_id, group);
    }
    const groups = [...byLast.values()];
    return ascending ? groups : groups.reverse();
  }

  /** The quoted table name of a partition, for queries. */
  table(p: LogFtsPartition): string {
    return ident(p.name);
  }

  /**
   * Drops every partition none of whose lines is left (call inside a write transaction): a class's
   * partition goes when its last id is below the oldest stored line of that class. Returns the names
   * dropped. Each drop frees the partition's pages; `reclaimFreePages` (db/space.ts) returns them to
   * the file system.
   */
  dropEmpty(): string[] {
    const oldest = (levels: readonly string[]): number => {
      let min = Number.POSITIVE_INFINITY;
      for (const level of levels) {
        // One seek each in logs_level_id.
        const id = this.db.prepare('SELECT MIN(id) FROM logs WHERE level = ?').pluck().get(level) as number | null;
        if (id !== null) {
          min = Math.min(min, id);
        }
      }
      return min;
    };
    const oldestDebug = oldest(['debug']);
    const oldestOther = oldest(['error', 'warn', 'info']);
    const oldestOf: Record<LogFtsClass, number> = { debug: oldestDebug, other: oldestOther, all: Math.min(oldestDebug, oldestOther) };
    const rows = this.db.prepare('SELECT name, class, first_id, last_id FROM logs_fts_partitions').all() as PartitionRow[];
    const gone = rows.filter((r) => r.last_id < oldestOf[r.class]).map((r) => r.name);
    for (const name of gone) {
      this.drop(name);
    }
    return gone;
  }

  /** Drops every partition (call inside a write transaction); returns how many. */
  dropAll(): number {
    const names = this.db.prepare('SELECT name FROM logs_fts_partitions').pluck().all() as string[];
    for (const name of names) {
      this.drop(name);
    }
    return names.length;
  }

  private drop(name: string): void {
    this.db.exec(`DROP TABLE IF EXISTS ${ident(name)}`);
    this.db.prepare('DELETE FROM logs_fts_partitions WHERE name = ?').run(name);
    this.inserts.delete(name);
  }

  /** Creates partition `name` unless the catalogue lists it (another replica may have created it). */
  private ensure(name: string, cls: LogFtsClass, k: number): void {
    if (this.db.prepare('SELECT 1 FROM logs_fts_partitions WHERE name = ?').get(name) !== undefined) {
      return;
    }
    this.db.exec(
      `CREATE VIRTUAL TABLE IF NOT EXISTS ${ident(name)} USING fts5(message, content = '', tokenize = 'trigram case_sensitive 0', detail = none, columnsize = 0)`,
    );
    this.db
      .prepare('INSERT OR IGNORE INTO logs_fts_partitions (name, class, first_id, last_id) VALUES (?, ?, ?, ?)')
      .run(name, cls, k * this.partitionLines, (k + 1) * this.partitionLines - 1);
    this.inserts.delete(name);
  }
}
