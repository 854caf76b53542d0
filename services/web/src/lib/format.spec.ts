import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatPct, formatRate, formatTemp, pct } from './format.js';

describe('format', () => {
  it.each([
    [null, 'binary', '—'],
    [512, 'binary', '512 B'],
    [1536, 'binary', '1.50 KiB'],
    [1536, 'decimal', '1.54 kB'],
    [8 * 1024 ** 3, 'binary', '8.00 GiB'],
    [150 * 1000 ** 2, 'decimal', '150 MB'],
  ] as const)('formatBytes(%s, %s) = %s', (bytes, units, text) => {
    expect(formatBytes(bytes, units)).toBe(text);
  });

  it.each([
    [5, '5s'],
    [65, '1m 5s'],
    [3 * 3600 + 120, '3h 2m'],
    [2 * 86_400 + 3 * 3600, '2d 3h'],
    [null, '—'],
  ])('formatDuration(%s) = %s', (sec, text) => {
    expect(formatDuration(sec)).toBe(text);
  });

  it('formats counts, percents, rates and temperatures', () => {
    expect(formatCount(7_241_000_000)).toBe('7.24B');
    expect(formatCount(350_000_000)).toBe('350M');
    expect(formatPct(12.345)).toBe('12.3 %');
    expect(pct(1, 4)).toBe(25);
    expect(pct(1, 0)).toBeNull();
    expect(formatRate(42.27)).toBe('42.3 t/s');
    expect(formatTemp(100, 'f')).toBe('212 °F');
  });
});
