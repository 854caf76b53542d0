import type { z } from 'zod';
import type { Db } from '../db/database.js';

/**
 * Small documents the gateway keeps: server configuration (its own table, one row),
 * key/value metadata (settings, preset, last status of each node, argument catalogue), the
 * revision of each editable document, and when each supervisor node was last heard from.
 */
export class StateRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  getServerConfig<T>(schema: z.ZodType<T>): T | null {
    const row = this.db.prepare('SELECT config FROM server_config WHERE id = 1').get() as { config: string } | undefined;
    const parsed = row ? schema.safeParse(JSON.parse(row.config)) : null;
    return parsed?.success ? parsed.data : null;
  }

  saveServerConfig(config: unknown): void {
    this.db
      .prepare('INSERT INTO server_config (id, config, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_at = excluded.updated_at')
      .run(JSON.stringify(config), Date.now());
  }

  /**
   * Runs `fn` in one immediate (write-locked) transaction: a read-check-write of a revision is
   * atomic across every replica that shares the file. Throws what `fn` throws (rolled back).
   */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /** A document's revision; 0 when it was never changed. */
  revision(document: string): number {
    const row = this.db.prepare('SELECT revision FROM revisions WHERE document = ?').get(document) as { revision: number } | undefined;
    return row?.revision ?? 0;
  }

  /** Revisions of every document whose name starts with `prefix`, by name. */
  revisions(prefix: string): Map<string, number> {
    const rows = this.db.prepare('SELECT document, revision FROM revisions WHERE document LIKE ?').all(`${prefix}%`) as { document: string; revision: number }[];
    return new Map(rows.map((r) => [r.document, r.revision]));
  }

  setRevision(document: string, revision: number, now = Date.now()): void {
    this.db
      .prepare('INSERT INTO revisions (document, revision, updated_at) VALUES (?, ?, ?) ON CONFLICT (document) DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at')
      .run(document, revision, now);
  }

  /**
   * Records a report from a node at `at` (epoch ms). True when that brings it (back) online:
   * a node never heard of, or one marked offline, heard from within `freshMs` of `now` by a report
   * newer than every earlier one (a report read late, sent before the node was seen gone, does not).
   */
  nodeHeard(nodeId: string, at: number, freshMs: number, now = Date.now()): boolean {
    const before = this.db.prepare('SELECT last_heard_at, online FROM nodes WHERE node_id = ?').get(nodeId) as { last_heard_at: number; online: number } | undefined;
    const lastHeardAt = Math.max(before?.last_heard_at ?? 0, at);
    const online = before?.online === 1 ? 1 : now - lastHeardAt <= freshMs && (before === undefined || at > before.last_heard_at) ? 1 : (before?.online ?? 0);
    this.db
      .prepare('INSERT INTO nodes (node_id, last_heard_at, online) VALUES (?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET last_heard_at = excluded.last_heard_at, online = excluded.online')
      .run(nodeId, lastHeardAt, online);
    return online === 1 && before?.online !== 1;
  }

  /** Marks offline every online node not heard from since `cutoff`; returns their ids (each once, across replicas). */
  markNodesOffline(cutoff: number): string[] {
    return this.transaction(() => {
      const stale = this.db.prepare('SELECT node_id FROM nodes WHERE online = 1 AND last_heard_at < ?').all(cutoff) as { node_id: string }[];
      const mark = this.db.prepare('UPDATE nodes SET online = 0 WHERE node_id = ? AND online = 1');
      return stale.filter((r) => mark.run(r.node_id).changes === 1).map((r) => r.node_id);
    });
  }

  /** Marks `nodeId` offline now (its supervisor is gone); true only for the call that changed it (once across replicas). */
  markNodeOffline(nodeId: string): boolean {
    return this.db.prepare('UPDATE nodes SET online = 0 WHERE node_id = ? AND online = 1').run(nodeId).changes === 1;
  }

  /** Every node heard of, by id. */
  nodes(): { nodeId: string; lastHeardAt: number; online: boolean; stale: boolean }[] {
    const rows = this.db.prepare('SELECT node_id, last_heard_at, online FROM nodes ORDER BY node_id').all() as { node_id: string; last_heard_at: number; online: number }[];
    return rows.map((r) => ({ nodeId: r.node_id, lastHeardAt: r.last_heard_at, online: r.online === 1, stale: r.online !== 1 }));
  }

  getMeta<T>(key: string, schema: z.ZodType<T>): T | null {
    const row = this.db.prepare('SELECT value FROM metadata WHERE key = ?').get(key) as { value: string } | undefined;
    const parsed = row ? schema.safeParse(JSON.parse(row.value)) : null;
    return parsed?.success ? parsed.data : null;
  }

  setMeta(key: string, value: unknown): void {
    this.db
      .prepare('INSERT INTO metadata (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at')
      .run(key, JSON.stringify(value), Date.now());
  }

  metaKeys(prefix: string): string[] {
    return (this.db.prepare('SELECT key FROM metadata WHERE key LIKE ? ORDER BY key').all(`${prefix}%`) as { key: string }[]).map((r) => r.key);
  }

  /**
   * Records that a Redis stream entry has been stored. False when it already was (a redelivery
   * after a replica crashed between writing and acknowledging): the caller skips it.
   */
  claimStreamEntry(streamId: string): boolean {
    return this.db.prepare('INSERT OR IGNORE INTO ingested (stream_id, ts) VALUES (?, ?)').run(streamId, Date.now()).changes === 1;
  }

  pruneIngested(olderThanMs: number, now = Date.now()): number {
    return this.db.prepare('DELETE FROM ingested WHERE ts < ?').run(now - olderThanMs).changes;
  }
}
