import type { z } from 'zod';
import type { Db } from '../db/database.js';

/**
 * Small documents the gateway keeps: server configuration (its own table, one row) and
 * key/value metadata (settings, preset, last status of each node, argument catalogue).
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
