import { describe, expect, it } from 'vitest';
import type { ActivityRecord } from '@llamaproxy/shared';
import { openDatabase } from '../db/database.js';
import { ApiActivityRepository } from './api-activity.repository.js';
import { CaptureRepository, type CaptureInput } from './capture.repository.js';

const record = (ts: number): Omit<ActivityRecord, 'id'> => ({
  ts, keyId: null, keyName: null, userId: null, username: null, model: 'm', endpoint: '/chat/completions', status: 200, stream: false,
  promptTokens: 1, cachedTokens: 0, completionTokens: 1, ttftMs: 1, tokensPerSec: 1, durationMs: 1, address: null, error: null,
});
const capture = (text: string): CaptureInput => ({ request: `{"prompt":"${text}"}`, requestTruncated: false, response: `answer to ${text}`, responseTruncated: false });

function setup() {
  const db = openDatabase(':memory:');
  const activity = new ApiActivityRepository(db);
  const sut = new CaptureRepository(db);
  const stored = (n: number) => activity.insertMany(Array.from({ length: n }, (_, i) => record(1000 + i)));
  return { db, activity, sut, stored };
}

describe(CaptureRepository.name, () => {
  it('is off by default and keeps nothing while off', () => {
    const { sut, stored } = setup();
    expect(sut.settings()).toEqual({ enabled: false, maxRequests: 20, maxBytes: 65_536 });
    const [r] = stored(1);
    sut.store([{ activityId: r!.id, ts: r!.ts, capture: capture('a') }]);
    expect(sut.count()).toBe(0);
    expect(sut.get(r!.id)).toBeNull();
  });

  it('keeps the newest maxRequests captures, each side cut at maxBytes', () => {
    const { sut, stored } = setup();
    sut.saveSettings({ enabled: true, maxRequests: 2, maxBytes: 1024 });
    const rows = stored(3);
    sut.store(rows.map((r, i) => ({ activityId: r.id, ts: r.ts, capture: i === 2 ? { ...capture('x'), response: 'y'.repeat(5000) } : capture(String(i)) })));
    expect(sut.count()).toBe(2);
    expect(sut.get(rows[0]!.id)).toBeNull();
    expect(sut.get(rows[1]!.id)).toMatchObject({ request: '{"prompt":"1"}', response: 'answer to 1', requestTruncated: false, responseTruncated: false });
    expect(sut.get(rows[2]!.id)).toMatchObject({ response: 'y'.repeat(1024), responseTruncated: true });
  });

  it('deletes every capture when turned off, and the oldest when the count is lowered', () => {
    const { sut, stored } = setup();
    sut.saveSettings({ enabled: true, maxRequests: 5, maxBytes: 1024 });
    const rows = stored(4);
    sut.store(rows.map((r) => ({ activityId: r.id, ts: r.ts, capture: capture(String(r.id)) })));
    expect(sut.saveSettings({ enabled: true, maxRequests: 2, maxBytes: 1024 })).toBe(2);
    expect(sut.get(rows[3]!.id)).not.toBeNull();
    expect(sut.saveSettings({ enabled: false, maxRequests: 2, maxBytes: 1024 })).toBe(0);
    expect(sut.get(rows[3]!.id)).toBeNull();
  });

  it('goes with its activity record when that is pruned', () => {
    const { sut, activity, stored } = setup();
    sut.saveSettings({ enabled: true, maxRequests: 5, maxBytes: 1024 });
    const [r] = stored(1);
    sut.store([{ activityId: r!.id, ts: r!.ts, capture: capture('a') }]);
    activity.prune(1, 10_000);
    expect(sut.count()).toBe(0);
  });
});
