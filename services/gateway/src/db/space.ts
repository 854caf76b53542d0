import { statfsSync, statSync } from 'node:fs';
import type { Db } from './database.js';

/** SQLite's `PRAGMA auto_vacuum` values. */
const AutoVacuum = { none: 0, full: 1, incremental: 2 } as const;

/**
 * The one-time VACUUM that turns incremental vacuum on for a database created before it is skipped
 * (and retried on the next start) when the file is larger than this: it rewrites the whole file
 * while holding the write lock and delaying the gateway's start, about 1 s per 100 MB on a small
 * machine. The previous default log cap (200,000 lines) made files of about 100 MB.
 */
export const VACUUM_MAX_BYTES = 1024 ** 3;

/**
 * Pages `reclaimFreePages` returns to the file system at most per call (400 MiB at 4 KiB pages):
 * each moved page is a write, so one prune after a large retention change does not hold the write
 * lock for long; the rest is returned by the next prunes.
 */
export const RECLAIM_MAX_PAGES = 100_000;

/** What `enableIncrementalVacuum` found or did, for the start-up log. */
export type VacuumSetup =
  | { action: 'on' }
  | { action: 'vacuumed'; ms: number; bytesBefore: number; bytesAfter: number }
  | { action: 'skipped'; reason: string; bytes: number };

/** The database file's size in bytes, its write-ahead log included (0 for `:memory:`). */
export function databaseBytes(path: string): number {
  if (path === ':memory:') {
    return 0;
  }
  const size = (p: string): number => {
    try {
      return statSync(p).size;
    } catch {
      return 0;
    }
  };
  return size(path) + size(`${path}-wal`);
}

/**
 * Turns on `auto_vacuum = INCREMENTAL`, so that pages freed by pruning can be returned to the file
 * system (`reclaimFreePages`). A new database gets it before its first table (`openDatabase` calls
 * this before the migrations); an existing one needs one VACUUM, done here when it is safe:
 * the file is at most `maxBytes` and the disk has room for a second copy of it (VACUUM writes the
 * whole database through the write-ahead log). Otherwise, or when another connection holds the
 * database busy past the busy timeout, it is skipped and tried again on the next start: nothing is
 * lost either way (VACUUM is one transaction). Idempotent; several replicas may call it at once.
 */
export function enableIncrementalVacuum(db: Db, path: string, maxBytes = VACUUM_MAX_BYTES): VacuumSetup {
  if ((db.pragma('auto_vacuum', { simple: true }) as number) === AutoVacuum.incremental) {
    return { action: 'on' };
  }
  // On an empty database the setting takes effect as the first table is written.
  db.pragma('auto_vacuum = INCREMENTAL');
  if ((db.pragma('auto_vacuum', { simple: true }) as number) === AutoVacuum.incremental) {
    return { action: 'on' };
  }
  const bytesBefore = databaseBytes(path);
  if (bytesBefore > maxBytes) {
    return { action: 'skipped', reason: `the file is larger than ${maxBytes} bytes`, bytes: bytesBefore };
  }
  if (path !== ':memory:') {
    const fs = statfsSync(path);
    if (fs.bavail * fs.bsize < 2 * bytesBefore) {
      return { action: 'skipped', reason: 'not enough free disk space for a copy of the file', bytes: bytesBefore };
    }
  }
  const started = performance.now();
  try {
    db.exec('VACUUM');
  } catch (err) {
    return { action: 'skipped', reason: `VACUUM failed: ${(err as Error).message}`, bytes: bytesBefore };
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  return { action: 'vacuumed', ms: Math.round(performance.now() - started), bytesBefore, bytesAfter: databaseBytes(path) };
}

/**
 * Returns up to `maxPages` free pages (left by deletes) to the file system: `PRAGMA
 * incremental_vacuum` moves pages from the end of the file into the free slots and truncates it,
 * then a TRUNCATE checkpoint copies that into the main file and empties the write-ahead log (with
 * readers on other connections the checkpoint may stop early; the next call completes it).
 * Returns the pages freed and how many free pages are left. Without incremental vacuum (see
 * `enableIncrementalVacuum`) it frees nothing.
 */
export function reclaimFreePages(db: Db, maxPages = RECLAIM_MAX_PAGES): { freed: number; left: number } {
  const before = db.pragma('freelist_count', { simple: true }) as number;
  if (before === 0 || (db.pragma('auto_vacuum', { simple: true }) as number) !== AutoVacuum.incremental) {
    return { freed: 0, left: before };
  }
  db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(maxPages))})`);
  db.pragma('wal_checkpoint(TRUNCATE)');
  const left = db.pragma('freelist_count', { simple: true }) as number;
  return { freed: before - left, left };
}
