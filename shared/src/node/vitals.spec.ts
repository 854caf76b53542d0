import { describe, expect, it } from 'vitest';
import { ConfigError } from './env.js';
import { readVitals, vitalsIntervalMs } from './vitals.js';

describe(vitalsIntervalMs.name, () => {
  it.each([
    [{}, 0],
    [{ VITALS_INTERVAL_MS: '' }, 0],
    [{ VITALS_INTERVAL_MS: '5000' }, 5000],
  ])('reads %j as %d', (env, expected) => {
    expect(vitalsIntervalMs('test', env)).toBe(expected);
  });

  it('names the key when the value is not a whole number of milliseconds', () => {
    expect(() => vitalsIntervalMs('test', { VITALS_INTERVAL_MS: 'often' })).toThrow(ConfigError);
    expect(() => vitalsIntervalMs('test', { VITALS_INTERVAL_MS: '-1' })).toThrow(/VITALS_INTERVAL_MS/);
  });
});

describe(readVitals.name, () => {
  it('counts an active timer among the resources, by kind', () => {
    const before = readVitals();
    const timer = setInterval(() => undefined, 60_000);
    try {
      const sut = readVitals();
      expect(sut.activeResources).toBe(before.activeResources + 1);
      expect(sut.resourceKinds.Timeout).toBe((before.resourceKinds.Timeout ?? 0) + 1);
      expect(sut.heapUsedBytes).toBeGreaterThan(0);
      expect(sut.rssBytes).toBeGreaterThanOrEqual(sut.heapUsedBytes);
    } finally {
      clearInterval(timer);
    }
  });
});
