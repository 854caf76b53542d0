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
      const logs = new LogRepository(sut);
      sut.transaction(() => logs.insert(lines(10_000)))();
      sut.pragma('wal_checkpoint(TRUNCATE)');
      const full = databaseBytes(path);
      expect(logs.prune(1_000, 30 * 86_400_000, now, 86_400_000, Number.POSITIVE_INFINITY)).toBe(9_000);
      expect(sut.pragma('freelist_count', { simple: true })).toBeGreaterThan(0);
      const space = reclaimFreePages(sut);
      expect(space).toMatchObject({ left: 0 });
      expect(space.freed).toBeGreaterThan(0);
      const pruned = databaseBytes(path);
      // 90 % of the lines gone: the table and its indexes shrink with them; FTS5 keeps some dead
      // entries in the full-text index until its segments are merged (FTS5 does that as lines arrive).
      expect(pruned).toBeLessThan(full * 0.7);
      expect(logs.query({ text: 'task 9998', limit: 5 }).entries).toHaveLength(1);
    } finally {
      sut.close();
    }
  });

  it('keeps the file from growing under a rolling retention', () => {
    const path = join(dir, 'rolling.db');
    const sut = openDatabase(path);
    try {
      const logs = new LogRepository(sut);
      let next = 0;
      const sizes: number[] = [];
      for (let cycle = 0; cycle < 24; cycle++) {
        const batch = lines(500).map((l) => ({ ...l, ts: now + next * 1000, message: l.message.replace(/task \d+/, `task ${next++}`) }));
        sut.transaction(() => logs.insert(batch))();
        logs.prune(2_000, 30 * 86_400_000, now + next * 1000);
        reclaimFreePages(sut);
        sizes.push(databaseBytes(path));
      }
      // The log turns over 5 times: the file rises and falls as FTS5 merges its segments (deleted
      // lines' entries go with the merges), and its highs do not rise.
      expect(Math.max(...sizes.slice(12))).toBeLessThan(Math.max(...sizes.slice(6, 12)) * 1.1);
      expect(sut.prepare('SELECT COUNT(*) FROM logs').pluck().get()).toBe(2_000);
    } finally {
      sut.close();
    }
  }, 30_000);

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
