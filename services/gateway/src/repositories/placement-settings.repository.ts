import { DEFAULT_MODEL_PLACEMENT_SETTINGS, type ModelPlacementSettings, type PlacementSettings } from '@llamaproxy/shared';
import type { Db } from '../db/database.js';

interface ModelRow {
  model_id: string;
  pinned: number;
  ttl_seconds: number | null;
  load_on_startup: number;
}

/**
 * The placement settings (issue #14) in SQLite: one row per model that has settings of its own
 * (`placement_models`) and the global default TTL (`placement_defaults`). A model set back to the
 * defaults loses its row, so the document lists only what differs.
 */
export class PlacementSettingsRepository {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** The whole document: the default TTL (0 when never set) and every model with its own settings. */
  read(): PlacementSettings {
    const defaults = this.db.prepare('SELECT default_ttl_seconds FROM placement_defaults WHERE id = 1').get() as { default_ttl_seconds: number } | undefined;
    const rows = this.db.prepare('SELECT model_id, pinned, ttl_seconds, load_on_startup FROM placement_models ORDER BY model_id').all() as ModelRow[];
    const models: Record<string, ModelPlacementSettings> = {};
    for (const row of rows) {
      models[row.model_id] = { pinned: row.pinned === 1, ttlSeconds: row.ttl_seconds, loadOnStartup: row.load_on_startup === 1 };
    }
    return { defaultTtlSeconds: defaults?.default_ttl_seconds ?? 0, models };
  }

  /** Sets the default idle TTL (seconds, 0 = never). */
  setDefaultTtl(seconds: number, now = Date.now()): void {
    this.db
      .prepare('INSERT INTO placement_defaults (id, default_ttl_seconds, updated_at) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET default_ttl_seconds = excluded.default_ttl_seconds, updated_at = excluded.updated_at')
      .run(seconds, now);
  }

  /** Stores one model's settings; the defaults (or null) remove its row. */
  setModel(modelId: string, settings: ModelPlacementSettings | null, now = Date.now()): void {
    if (settings === null || isDefault(settings)) {
      this.db.prepare('DELETE FROM placement_models WHERE model_id = ?').run(modelId);
      return;
    }
    this.db
      .prepare(
        `INSERT INTO placement_models (model_id, pinned, ttl_seconds, load_on_startup, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model_id) DO UPDATE SET pinned = excluded.pinned, ttl_seconds = excluded.ttl_seconds, load_on_startup = excluded.load_on_startup, updated_at = excluded.updated_at`,
      )
      .run(modelId, settings.pinned ? 1 : 0, settings.ttlSeconds, settings.loadOnStartup ? 1 : 0, now);
  }
}

function isDefault(s: ModelPlacementSettings): boolean {
  const d = DEFAULT_MODEL_PLACEMENT_SETTINGS;
  return s.pinned === d.pinned && s.ttlSeconds === d.ttlSeconds && s.loadOnStartup === d.loadOnStartup;
}
