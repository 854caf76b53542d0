import { describe, expect, it } from 'vitest';
import { alignSeries, appendRow } from './align.js';

const p = (ts: number, avg: number) => ({ ts, min: avg, avg, max: avg });

describe('alignSeries', () => {
  it('aligns series on the union of timestamps, in seconds, with gaps as null', () => {
    expect(alignSeries([[p(1000, 1), p(3000, 3)], [p(2000, 20)], undefined])).toEqual([
      [1, 2, 3],
      [1, null, 3],
      [null, 20, null],
      [null, null, null],
    ]);
  });
});

describe('appendRow', () => {
  it('appends newer rows and drops those before the window', () => {
    const columns = alignSeries([[p(1000, 1), p(2000, 2)]]);
    expect(appendRow(columns, 3000, [3], 2000)).toEqual([
      [2, 3],
      [2, 3],
    ]);
    expect(appendRow(columns, 2000, [9], 0)).toBe(columns);
  });

  it('creates a column per value on an empty chart', () => {
    expect(appendRow([[]], 5000, [1, null], 0)).toEqual([[5], [1], [null]]);
  });
});
