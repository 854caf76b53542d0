import { describe, expect, it } from 'vitest';
import { rowWindow, type RowWindowInput } from './row-window.js';

const base: RowWindowInput = { count: 5000, rowHeight: 50, scrollTop: 0, viewportHeight: 500, overscan: 5 };

describe(rowWindow.name, () => {
  it.each<[string, Partial<RowWindowInput>, { start: number; end: number; padTop: number; padBottom: number }]>([
    ['at the top: the visible rows and the overscan below', {}, { start: 0, end: 15, padTop: 0, padBottom: (5000 - 15) * 50 }],
    ['in the middle: overscan on both sides', { scrollTop: 10_000 }, { start: 195, end: 215, padTop: 195 * 50, padBottom: (5000 - 215) * 50 }],
    ['part way into a row: that row is shown', { scrollTop: 10_025 }, { start: 195, end: 216, padTop: 195 * 50, padBottom: (5000 - 216) * 50 }],
    ['at the end: nothing past the last row', { scrollTop: 5000 * 50 - 500 }, { start: 4985, end: 5000, padTop: 4985 * 50, padBottom: 0 }],
    ['scrolled past the end (the list shrank): an empty window at the end', { count: 10, scrollTop: 10_000 }, { start: 10, end: 10, padTop: 500, padBottom: 0 }],
    ['above the first row (a header in view)', { scrollTop: -120 }, { start: 0, end: 15, padTop: 0, padBottom: (5000 - 15) * 50 }],
    ['an empty list', { count: 0 }, { start: 0, end: 0, padTop: 0, padBottom: 0 }],
    ['no layout yet: the fallback rows', { viewportHeight: 0, fallbackRows: 20 }, { start: 0, end: 25, padTop: 0, padBottom: (5000 - 25) * 50 }],
  ])('%s', (_name, input, expected) => {
    const sut = rowWindow({ ...base, ...input });
    expect(sut).toEqual(expected);
    // The spacers and the rows always add up to the whole list.
    expect(sut.padTop + (sut.end - sut.start) * 50 + sut.padBottom).toBe((input.count ?? base.count) * 50);
  });
});
