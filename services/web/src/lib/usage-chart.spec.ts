import { describe, expect, it } from 'vitest';
import type { UsageRow } from '@llamaproxy/shared';
import { usageChart, usageLabel } from './usage-chart.js';

const row = (day: string, model: string, tokens: number, extra: Partial<UsageRow> = {}): UsageRow => ({
  day, keyId: 'k1', keyName: 'ci', userId: 'u1', username: 'ann', model, requests: 1, errors: 0, promptTokens: tokens, completionTokens: 1, ...extra,
});

describe('usageChart', () => {
  it('stacks tokens per period, oldest period first, largest series first', () => {
    const sut = usageChart([row('2026-11-02', 'a', 9), row('2026-11-01', 'b', 29), row('2026-11-02', 'b', 4)], 'model');
    expect(sut.periods).toEqual(['2026-11-01', '2026-11-02']);
    expect(sut.series).toEqual([
      { label: 'b', values: [30, 5] },
      { label: 'a', values: [0, 10] },
    ]);
    expect(sut.max).toBe(30);
  });

  it('sums everything past the largest groups as "others"', () => {
    const rows = ['m1', 'm2', 'm3', 'm4'].map((m, i) => row('2026-11-01', m, 10 * (4 - i)));
    const sut = usageChart(rows, 'model', 3);
    expect(sut.series.map((s) => s.label)).toEqual(['m1', 'm2', 'others']);
    expect(sut.series[2]?.values).toEqual([20 + 1 + 10 + 1]);
  });

  it('is empty without rows', () => {
    expect(usageChart([], 'key')).toEqual({ periods: [], series: [], max: 0 });
  });

  it.each([
    ['key', {}, 'ci'],
    ['key', { keyId: null, keyName: null }, 'session'],
    ['key', { keyName: null }, 'k1'],
    ['user', { username: null }, '—'],
    ['model', { model: null }, '—'],
  ] as const)('labels a row by %s', (by, extra, label) => {
    expect(usageLabel(row('2026-11-01', 'a', 1, extra), by)).toBe(label);
  });
});
