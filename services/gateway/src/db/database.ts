import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';
import { enableIncrementalVacuum, type VacuumSetup } from './space.js';

export type Db = Database.Database;

/** Options of `openDatabase`. */
export interface OpenDatabaseOptions {
  /** Told what the incremental-vacuum step did (see `enableIncrementalVacuum`), for the log. */
  onVacuumSetup?: (setup: VacuumSetup) => void;
}

/**
 * Opens the gateway's SQLite database: WAL (several gateway replicas may share the file),
 * a busy timeout for writers on other replicas, incremental vacuum (so that pruning can return
 * space; a database created before it gets a one-time, bounded VACUUM), and every pending
 * migration applied.
 */
export function openDatabase(path: string, options: OpenDatabaseOptions = {}): Db {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
  }
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  // Before WAL and the first table: on a new database the setting costs nothing.
  const setup = enableIncrementalVacuum(db, path);
  options.onVacuumSetup?.(setup);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

/** Applies migrations by `PRAGMA user_version`, each in its own (immediate) transaction. */
export function migrate(db: Db): number {
  for (const [index, sql] of MIGRATIONS.entries()) {
    const version = index + 1;
    const apply = db.transaction(() => {
      // Re-read inside the write lock: another replica may have migrated meanwhile.
      const current = db.pragma('user_version', { simple: true }) as number;
      if (current >= version) {
        return;
      }
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    });
    apply.immediate();
  }
  return db.pragma('user_version', { simple: true }) as number;
}
