import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '@llamaproxy/shared';
import { LogRepository } from '../repositories/log.repository.js';
import { openDatabase } from './database.js';
import { MIGRATIONS } from './migrations.js';
import { databaseBytes, enableIncrementalVacuum, reclaimFreePages, type VacuumSetup } from './space.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-space-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const now = 1_700_000_000_000;
/** `n` llama-server-like lines, a second apart, ending at `now`. */
const lines = (n: number): LogRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    ts: now - (n - i) * 1000,
    level: i % 3 === 0 ? 'debug' : 'info',
    source: 'llama-server',
    nodeId: 'node-a',
    modelId: 'qwen2.5-7b-instruct-q4_k_m',
    message: `slot update_slots: id  ${i % 4} | task ${i} | prompt processing progress, n_past = ${(i * 37) % 8192}, n_tokens = 512`,
  }));

describe(enableIncrementalVacuum.name, () => {
  it('is on for a new database, and pruning returns the space to the file system', { timeout: 30_000 }, () => {
    const path = join(dir, 'new.db');
    const setups: VacuumSetup[] = [];
    const sut = openDatabase(path, { onVacuumSetup: (s) => setups.push(s) });
    try {
      expect(setups).toEqual([{ action: 'on' }]);
      // Full-text partitions of 1,000 ids: the 9,000 pruned lines' partitions are dropped whole.
      const logs = new LogRepository(sut, { partitionLines: 1_000 });
      sut.transaction(() => logs.insert(lines(10_000)))();
      sut.pragma('wal_checkpoint(TRUNCATE)');
      const full = databaseBytes(path);
      expect(logs.prune(1_000, 30 * 86_400_000, now, 86_400_000, Number.POSITIVE_INFINITY)).toBe(9_000);
      expect(sut.pragma('freelist_count', { simple: true })).toBeGreaterThan(0);
      const space = reclaimFreePages(sut);
      expect(space).toMatchObject({ left: 0 });
      expect(space.freed).toBeGreaterThan(0);
      const pruned = databaseBytes(path);
      // 90 % of the lines gone: the table, its indexes and the full-text index shrink with them.
      expect(pruned).toBeLessThan(full * 0.25);
      expect(logs.query({ text: 'task 9998', limit: 5 }).entries).toHaveLength(1);
    } finally {
      sut.close();
    }
  });

  it('keeps the file from growing under a rolling retention', () => {
    const path = join(dir, 'rolling.db');
    const sut = openDatabase(path);
    try {
      const logs = new LogRepository(sut, { partitionLines: 1_000 });
      let next = 0;
      const sizes: number[] = [];
      for (let cycle = 0; cycle < 24; cycle++) {
        const batch = lines(500).map((l) => ({ ...l, ts: now + next * 1000, message: l.message.replace(/task \d+/, `task ${next++}`) }));
        sut.transaction(() => logs.insert(batch))();
        logs.prune(2_000, 30 * 86_400_000, now + next * 1000);
        reclaimFreePages(sut);
        sizes.push(databaseBytes(path));
      }
      // The log turns over 5 times: the file rises as lines arrive and falls as a full-text
      // partition is dropped, and its highs do not rise.
      expect(Math.max(...sizes.slice(12))).toBeLessThan(Math.max(...sizes.slice(6, 12)) * 1.05);
      expect(sut.prepare('SELECT COUNT(*) FROM logs').pluck().get()).toBe(2_000);
    } finally {
      sut.close();
    }
  }, 30_000);

  it('returns the space of pruned lines at a scale where FTS5 segment merges matter (200,000 lines)', { timeout: 120_000 }, () => {
    // Before migration 11, deleting lines from one FTS5 index left their entries and delete markers
    // until segment merges, and at this scale the file did not shrink. Default partition size here.
    const path = join(dir, 'scale.db');
    const sut = openDatabase(path);
    try {
      const logs = new LogRepository(sut);
      const total = 200_000;
      for (let start = 0; start < total; start += 10_000) {
        const batch = lines(10_000).map((l, i) => ({ ...l, level: 'info' as const, ts: now + (start + i) * 1000, message: l.message.replace(/task \d+/, `task ${start + i}`) }));
        sut.transaction(() => logs.insert(batch))();
      }
      sut.pragma('wal_checkpoint(TRUNCATE)');
      const full = databaseBytes(path);
      // Keep the newest 60,000 lines, through the gateway's bounded prunes (LOG_PRUNE_MAX_LINES each).
      let removed = 0;
      for (let tick = 0; tick < 100 && removed < total - 60_000; tick++) {
        removed += logs.prune(60_000, 30 * 86_400_000, now + total * 1000);
        reclaimFreePages(sut);
      }
      expect(removed).toBe(total - 60_000);
      expect(sut.prepare('SELECT name FROM logs_fts_partitions ORDER BY last_id').pluck().all()).toEqual(['logs_fts_2', 'logs_fts_3']);
      const pruned = databaseBytes(path);
      // 70 % of the lines gone: the file shrinks with them (one partly pruned partition is left).
      expect(pruned).toBeLessThan(full * 0.5);
      expect(logs.query({ text: `task ${total - 1} `, limit: 5 }).entries).toHaveLength(1);
      expect(logs.query({ text: 'task 1000 ', limit: 5 }).entries).toEqual([]);
    } finally {
      sut.close();
    }
  });

  it('vacuums a database created without it once, keeping every line, and then pruning shrinks it', () => {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.pragma('journal_mode = WAL');
    for (const [i, sql] of MIGRATIONS.entries()) {
      old.exec(sql);
      old.pragma(`user_version = ${i + 1}`);
    }
    old.transaction(() => new LogRepository(old).insert(lines(5_000)))();
    old.close();

    const setups: VacuumSetup[] = [];
    const sut = openDatabase(path, { onVacuumSetup: (s) => setups.push(s) });
    try {
      expect(setups).toEqual([{ action: 'vacuumed', ms: expect.any(Number), bytesBefore: expect.any(Number), bytesAfter: expect.any(Number) }]);
      expect(sut.pragma('auto_vacuum', { simple: true })).toBe(2);
      const logs = new LogRepository(sut);
      expect(logs.query({ afterId: 0, limit: 5000 }).entries).toHaveLength(5_000);
      const before = databaseBytes(path);
      logs.prune(500, 30 * 86_400_000, now, 86_400_000, Number.POSITIVE_INFINITY);
      reclaimFreePages(sut);
      expect(databaseBytes(path)).toBeLessThan(before * 0.7);
    } finally {
      sut.close();
    }
    // The next start finds it on and does nothing.
    const again: VacuumSetup[] = [];
    openDatabase(path, { onVacuumSetup: (s) => again.push(s) }).close();
    expect(again).toEqual([{ action: 'on' }]);
  });

  it('skips a file larger than its bound, changing nothing, and frees no pages without it', () => {
    const path = join(dir, 'big.db');
    const old = new Database(path);
    old.exec(MIGRATIONS[0] ?? '');
    const insert = old.prepare('INSERT INTO logs (ts, level, source, node_id, model_id, message) VALUES (?, ?, ?, ?, ?, ?)');
    old.transaction(() => lines(2_000).forEach((l) => insert.run(l.ts, l.level, l.source, l.nodeId, l.modelId, l.message)))();
    const bytes = databaseBytes(path);
    try {
      expect(enableIncrementalVacuum(old, path, 1000)).toEqual({ action: 'skipped', reason: expect.stringContaining('larger than') as string, bytes });
      expect(old.pragma('auto_vacuum', { simple: true })).toBe(0);
      old.prepare('DELETE FROM logs').run();
      expect(reclaimFreePages(old)).toMatchObject({ freed: 0 });
      expect(databaseBytes(path)).toBe(bytes);
    } finally {
      old.close();
    }
  });
});
