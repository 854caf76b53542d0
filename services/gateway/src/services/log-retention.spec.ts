import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogRecord } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { databaseBytes } from '../db/space.js';
import { LogRepository } from '../repositories/log.repository.js';
import { runLogRetention } from './log-retention.js';

let dir: string;
let db: Db;
const path = (): string => join(dir, 'retention.db');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-retention-'));
  db = openDatabase(path());
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const now = 1_700_000_000_000;
const DAY = 86_400_000;
const lines = (n: number): LogRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    ts: now - (n - i) * 1000,
    level: 'info',
    source: 'llama-server',
    nodeId: 'node-a',
    modelId: 'm',
    message: `slot print_timing: id  ${i % 4} | task ${i} | eval time = ${(i % 900) + 100}.12 ms / ${i % 300} tokens`,
  }));

describe(runLogRetention.name, () => {
  it('prunes in slices, yielding between them, up to maxLines per run, and returns the space', async () => {
    const logs = new LogRepository(db, { partitionLines: 500 });
    db.transaction(() => logs.insert(lines(6_000)))();
    db.pragma('wal_checkpoint(TRUNCATE)');
    const full = databaseBytes(path());
    let pauses = 0;
    const pause = async (): Promise<void> => {
      pauses++;
      await new Promise((resolve) => setImmediate(resolve));
    };
    const first = await runLogRetention(logs, db, { maxRows: 1_000, maxAgeMs: 30 * DAY, now, maxLines: 3_000, sliceLines: 400, slicePages: 50, pause });
    expect(first.removed).toBe(3_000);
    // 8 prune slices (7 full ones, then the rest) and at least one reclaim slice, a pause between each.
    expect(pauses).toBeGreaterThanOrEqual(8);
    expect(first.freedPages).toBeGreaterThan(0);
    const second = await runLogRetention(logs, db, { maxRows: 1_000, maxAgeMs: 30 * DAY, now, maxLines: 3_000, sliceLines: 400, slicePages: 50, pause });
    expect(second.removed).toBe(2_000);
    expect(second.freePagesLeft).toBe(0);
    expect(logs.lineCount()).toBe(1_000);
    expect(db.prepare('SELECT COUNT(*) FROM logs').pluck().get()).toBe(1_000);
    // Every full-text partition older than the kept lines is gone, and the file shrank with them.
    expect(db.prepare('SELECT name FROM logs_fts_partitions ORDER BY last_id').pluck().all()).toEqual(['logs_fts_10', 'logs_fts_11', 'logs_fts_12']);
    expect(databaseBytes(path())).toBeLessThan(full * 0.4);
    expect(logs.query({ text: 'task 5999 ', limit: 5 }).entries).toHaveLength(1);
  });

  it('stops between slices when the pause throws (the gateway shutting down), keeping what was done', async () => {
    const logs = new LogRepository(db);
    db.transaction(() => logs.insert(lines(2_000)))();
    let slices = 0;
    const pause = (): Promise<void> => (++slices === 2 ? Promise.reject(new Error('shutting down')) : Promise.resolve());
    await expect(runLogRetention(logs, db, { maxRows: 1_000, maxAgeMs: 30 * DAY, now, sliceLines: 100, pause })).rejects.toThrow('shutting down');
    expect(logs.lineCount()).toBe(1_800);
    expect(db.prepare('SELECT COUNT(*) FROM logs').pluck().get()).toBe(1_800);
  });
});
