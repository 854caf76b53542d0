import { randomUUID } from 'node:crypto';
import { ChannelConfigSchema, type ChannelConfig, type ChannelHealth, type ChannelKind, type ChannelView } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

interface ChannelRow {
  id: string;
  name: string;
  kind: string;
  enabled: number;
  settings: string;
  secrets: string;
  consecutive_failures: number;
  last_error: string | null;
  last_success_at: number | null;
  last_failure_at: number | null;
  created_at: number;
  updated_at: number;
}

/** A stored channel with its secrets: for the sender only, never for a response. */
export interface StoredChannel {
  id: string;
  name: string;
  enabled: boolean;
  config: ChannelConfig;
}

/**
 * Notification channels in SQLite. `view` and `list` never return a secret; `get` does, for the
 * worker that sends. Delivery outcomes update the health columns, one row per channel.
 */
export class AlertChannelRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  list(): ChannelView[] {
    return (this.db.prepare('SELECT * FROM alert_channels ORDER BY created_at, id').all() as ChannelRow[]).map(toView);
  }

  view(id: string): ChannelView | null {
    const row = this.row(id);
    return row ? toView(row) : null;
  }

  get(id: string): StoredChannel | null {
    const row = this.row(id);
    if (!row) {
      return null;
    }
    const config = ChannelConfigSchema.parse({ kind: row.kind, settings: JSON.parse(row.settings) as unknown, secrets: JSON.parse(row.secrets) as unknown });
    return { id: row.id, name: row.name, enabled: row.enabled === 1, config };
  }

  create(name: string, enabled: boolean, config: ChannelConfig, now = Date.now()): ChannelView {
    const id = randomUUID().replaceAll('-', '').slice(0, 16);
    this.db
      .prepare('INSERT INTO alert_channels (id, name, kind, enabled, settings, secrets, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, name, config.kind, enabled ? 1 : 0, JSON.stringify(config.settings), JSON.stringify(config.secrets), now, now);
    return this.view(id) as ChannelView;
  }

  update(id: string, change: { name: string; enabled: boolean; config: ChannelConfig }, now = Date.now()): ChannelView | null {
    const result = this.db
      .prepare('UPDATE alert_channels SET name = ?, kind = ?, enabled = ?, settings = ?, secrets = ?, updated_at = ? WHERE id = ?')
      .run(change.name, change.config.kind, change.enabled ? 1 : 0, JSON.stringify(change.config.settings), JSON.stringify(change.config.secrets), now, id);
    return result.changes === 0 ? null : this.view(id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM alert_channels WHERE id = ?').run(id).changes > 0;
  }

  /** Records a delivery that succeeded. Returns the health before (to log a recovery once). */
  recordSuccess(id: string, now = Date.now()): ChannelHealth | null {
    return this.db.transaction(() => {
      const before = this.row(id);
      this.db.prepare('UPDATE alert_channels SET consecutive_failures = 0, last_success_at = ? WHERE id = ?').run(now, id);
      return before ? health(before) : null;
    }).immediate();
  }

  /** Records a delivery that failed for good. Returns the health before (to log the first failure once). */
  recordFailure(id: string, error: string, now = Date.now()): ChannelHealth | null {
    return this.db.transaction(() => {
      const before = this.row(id);
      this.db
        .prepare('UPDATE alert_channels SET consecutive_failures = consecutive_failures + 1, last_error = ?, last_failure_at = ? WHERE id = ?')
        .run(error.slice(0, 500), now, id);
      return before ? health(before) : null;
    }).immediate();
  }

  private row(id: string): ChannelRow | undefined {
    return this.db.prepare('SELECT * FROM alert_channels WHERE id = ?').get(id) as ChannelRow | undefined;
  }
}

function health(row: ChannelRow): ChannelHealth {
  const status = row.consecutive_failures > 0 ? 'failing' : row.last_success_at !== null ? 'ok' : 'unknown';
  return {
    status,
    consecutiveFailures: row.consecutive_failures,
    lastError: row.last_error,
    lastSuccessAt: row.last_success_at,
    lastFailureAt: row.last_failure_at,
  };
}

function toView(row: ChannelRow): ChannelView {
  const secrets = JSON.parse(row.secrets) as Record<string, unknown>;
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ChannelKind,
    enabled: row.enabled === 1,
    settings: JSON.parse(row.settings) as Record<string, unknown>,
    secretsSet: Object.keys(secrets).filter((k) => typeof secrets[k] === 'string' && secrets[k] !== ''),
    health: health(row),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
