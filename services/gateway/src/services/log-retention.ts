import type { Db } from '../db/database.js';
import { reclaimFreePages } from '../db/space.js';
import { LOG_DEBUG_MAX_AGE_MS, LOG_PRUNE_MAX_LINES, type LogRepository } from '../repositories/log.repository.js';

/**
 * Lines removed per slice of a retention run (`runLogRetention`): one `LogRepository.prune` call,
 * one write transaction. 500 lines took 2 ms on an idle 2-core machine at 1M lines (8 b-tree
 * indexes per line, no full-text update since migration 11).
 */
export const LOG_PRUNE_SLICE_LINES = 500;

/**
 * Free pages returned to the file system per slice (`reclaimFreePages`; 2 MiB at 4 KiB pages):
 * moving 1,700 pages (a dropped full-text partition) took 63 ms on an idle 2-core machine at 1M
 * lines, so 500 keep a slice near 20 ms with the checkpoint after them.
 */
export const RECLAIM_SLICE_PAGES = 500;

/** Slices of one run at most (each kind): a run is bounded even if the database keeps changing (up to 400 MiB returned per run). */
const MAX_SLICES = 200;

/** What one retention run did. */
export interface LogRetentionRun {
  /** Lines removed. */
  removed: number;
  /** Pages returned to the file system, and free pages left for the next run. */
  freedPages: number;
  freePagesLeft: number;
  /** The longest slice (ms): the longest the event loop was held. */
  longestSliceMs: number;
  /** The longest prune slice and the longest reclaim slice (ms). */
  longestPruneMs: number;
  longestReclaimMs: number;
}

/** Options of `runLogRetention`; the defaults are the constants above and LOG_PRUNE_MAX_LINES. */
export interface LogRetentionOptions {
  maxRows: number;
  maxAgeMs: number;
  now?: number;
  debugMaxAgeMs?: number;
  /** Lines removed per run at most. */
  maxLines?: number;
  sliceLines?: number;
  slicePages?: number;
  /** Called between slices; the default yields to the event loop (`setImmediate`). */
  pause?: () => Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One retention run over the stored log, in slices so that the gateway is never held for long:
 * `LogRepository.prune` `sliceLines` lines at a time (each slice one write transaction, which also
 * drops the full-text partitions left without lines) up to `maxLines`, then the freed pages returned
 * `slicePages` at a time (`reclaimFreePages`, which also frees the pages other tables' prunes left),
 * yielding to the event loop between slices. Errors are thrown to the caller (a slice already
 * committed stays done; the next run goes on from there).
 */
export async function runLogRetention(logs: LogRepository, db: Db, options: LogRetentionOptions): Promise<LogRetentionRun> {
  const maxLines = options.maxLines ?? LOG_PRUNE_MAX_LINES;
  const sliceLines = Math.max(1, options.sliceLines ?? LOG_PRUNE_SLICE_LINES);
  const slicePages = Math.max(1, options.slicePages ?? RECLAIM_SLICE_PAGES);
  const pause = options.pause ?? nextTurn;
  const now = options.now ?? Date.now();
  const run: LogRetentionRun = { removed: 0, freedPages: 0, freePagesLeft: 0, longestSliceMs: 0, longestPruneMs: 0, longestReclaimMs: 0 };
  const timed = <T>(kind: 'longestPruneMs' | 'longestReclaimMs', fn: () => T): T => {
    const started = performance.now();
    try {
      return fn();
    } finally {
      run[kind] = Math.max(run[kind], performance.now() - started);
      run.longestSliceMs = Math.max(run.longestPruneMs, run.longestReclaimMs);
    }
  };
  for (let slice = 0; slice < MAX_SLICES && run.removed < maxLines; slice++) {
    const budget = Math.min(sliceLines, maxLines - run.removed);
    const removed = timed('longestPruneMs', () => logs.prune(options.maxRows, options.maxAgeMs, now, options.debugMaxAgeMs ?? LOG_DEBUG_MAX_AGE_MS, budget));
    run.removed += removed;
    if (removed < budget) {
      break;
    }
    await pause();
  }
  for (let slice = 0; slice < MAX_SLICES; slice++) {
    const space = timed('longestReclaimMs', () => reclaimFreePages(db, slicePages));
    run.freedPages += space.freed;
    run.freePagesLeft = space.left;
    if (space.freed === 0 || space.left === 0) {
      break;
    }
    await pause();
  }
  return run;
}
