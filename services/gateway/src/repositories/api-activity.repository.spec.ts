import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ActivityRecord } from '@llamaproxy/shared';
import { migrate, openDatabase, type Db } from '../db/database.js';
import { MIGRATIONS } from '../db/migrations.js';
import { ApiActivityRepository } from './api-activity.repository.js';

let dir: string;
let db: Db;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-activity-'));
  db = openDatabase(join(dir, 'test.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const record = (ts: number, extra: Partial<ActivityRecord> = {}): Omit<ActivityRecord, 'id'> => ({
  ts, keyId: 'k1', keyName: 'ci', userId: 'u1', username: 'ann', model: 'tiny-a', endpoint: '/chat/completions', status: 200, stream: true,
  promptTokens: 10, cachedTokens: 0, completionTokens: 5, ttftMs: 12, tokensPerSec: 50, durationMs: 100, address: '127.0.0.1', error: null, ...extra,
});

// Monday 2026-11-02 .. Sunday 2026-11-08, then Monday 2026-11-09 and a day in December.
const at = (day: string, hour = 12): number => Date.parse(`${day}T${String(hour).padStart(2, '0')}:00:00Z`);

describe(ApiActivityRepository.name, () => {
  it('returns the stored records with their ids, in the order given', () => {
    const sut = new ApiActivityRepository(db);
    const stored = sut.insertMany([record(at('2026-11-02')), record(at('2026-11-03'), { model: 'tiny-b' })]);
    expect(stored.map((r) => r.model)).toEqual(['tiny-a', 'tiny-b']);
    expect(stored[1]!.id).toBe(stored[0]!.id + 1);
    expect(sut.query({ limit: 10 }).records).toEqual([...stored].reverse());
  });

  it('sums usage per day, ISO week (from Monday) and month, per key, user and model', () => {
    const sut = new ApiActivityRepository(db);
    sut.insertMany([
      record(at('2026-11-02', 1)),
      record(at('2026-11-02', 23), { status: 500, promptTokens: null, completionTokens: null }),
      record(at('2026-11-08')),
      record(at('2026-11-09')),
      record(at('2026-12-01'), { model: 'tiny-b' }),
    ]);
    const from = at('2026-11-01');
    const to = at('2026-12-31');
    const days = sut.usage(from, to, 'day');
    expect(days.map((r) => [r.day, r.model, r.requests, r.errors, r.promptTokens, r.completionTokens])).toEqual([
      ['2026-12-01', 'tiny-b', 1, 0, 10, 5],
      ['2026-11-09', 'tiny-a', 1, 0, 10, 5],
      ['2026-11-08', 'tiny-a', 1, 0, 10, 5],
      ['2026-11-02', 'tiny-a', 2, 1, 10, 5],
    ]);
    expect(sut.usage(from, to, 'week').map((r) => [r.day, r.requests])).toEqual([['2026-11-30', 1], ['2026-11-09', 1], ['2026-11-02', 3]]);
    expect(sut.usage(from, to, 'month').map((r) => [r.day, r.model, r.requests])).toEqual([['2026-12-01', 'tiny-b', 1], ['2026-11-01', 'tiny-a', 4]]);
    expect(days[0]).toMatchObject({ keyId: 'k1', keyName: 'ci', userId: 'u1', username: 'ann' });
  });

  it('limits usage to the days asked for and to one user', () => {
    const sut = new ApiActivityRepository(db);
    sut.insertMany([record(at('2026-11-02')), record(at('2026-11-03'), { userId: 'u2', username: 'bob' }), record(at('2026-11-04'), { userId: null, username: null, keyId: null, keyName: null })]);
    expect(sut.usage(at('2026-11-03', 18), at('2026-11-04', 1), 'day').map((r) => r.day)).toEqual(['2026-11-04', '2026-11-03']);
    expect(sut.usage(at('2026-11-01'), at('2026-11-30'), 'month', 'u2').map((r) => [r.username, r.requests])).toEqual([['bob', 1]]);
    const none = sut.usage(at('2026-11-04'), at('2026-11-05'), 'day');
    expect(none).toEqual([expect.objectContaining({ keyId: null, userId: null, username: null, requests: 1 })]);
  });

  it('takes any non-negative time range, however far out', () => {
    const sut = new ApiActivityRepository(db);
    sut.insertMany([record(at('2026-11-02'))]);
    expect(sut.usage(1_105_449_963, 9_000_000_000_000_000, 'month').map((r) => r.requests)).toEqual([1]);
    expect(sut.usage(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'week')).toEqual([]);
  });

  it('reads usage from the daily totals, not from the requests', () => {
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT SUM(requests) FROM api_usage_daily WHERE day >= '2026-11-01' AND day < '2026-12-01' AND user_id = 'u1'")
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING (INDEX|PRIMARY KEY)/);
  });

  it('keeps daily totals longer than the requests they sum', () => {
    const sut = new ApiActivityRepository(db);
    const now = at('2026-11-30');
    sut.insertMany([record(now - 40 * 86_400_000), record(now - 1000)]);
    expect(sut.prune(30 * 86_400_000, now)).toBe(1);
    expect(sut.query({ limit: 10 }).records).toHaveLength(1);
    expect(sut.usage(now - 60 * 86_400_000, now, 'day').map((r) => r.requests)).toEqual([1, 1]);
  });
});

describe('migration 9 (daily usage totals)', () => {
  it('fills the totals from the requests stored before it', () => {
    const old = new Database(join(dir, 'old.db'));
    for (const sql of MIGRATIONS.slice(0, 7)) {
      old.exec(sql);
    }
    old.pragma('user_version = 7');
    old.prepare(`INSERT INTO api_requests (ts, key_id, key_name, user_id, username, model, endpoint, status, stream, prompt_tokens, completion_tokens, duration_ms)
      VALUES (?, 'k1', 'ci', 'u1', 'ann', 'tiny-a', '/completions', ?, 0, 3, 4, 10)`).run(at('2026-11-02'), 200);
    old.prepare(`INSERT INTO api_requests (ts, key_id, key_name, user_id, username, model, endpoint, status, stream, prompt_tokens, completion_tokens, duration_ms)
      VALUES (?, NULL, NULL, 'u1', 'ann', 'tiny-a', '/completions', ?, 0, NULL, NULL, 10)`).run(at('2026-11-02'), 429);
    expect(migrate(old)).toBe(MIGRATIONS.length);
    const sut = new ApiActivityRepository(old);
    expect(sut.usage(at('2026-11-01'), at('2026-11-03'), 'day').map((r) => [r.keyId, r.requests, r.errors, r.promptTokens])).toEqual([[null, 1, 1, 0], ['k1', 1, 0, 3]]);
    old.close();
  });
});
