import { describe, expect, it } from 'vitest';
import { historyPointsPerSeries, MAX_POINTS_PER_REQUEST, MAX_POINTS_PER_SERIES } from './metrics.js';

describe(historyPointsPerSeries.name, () => {
  it.each([
    [0, MAX_POINTS_PER_SERIES],
    [1, MAX_POINTS_PER_SERIES],
    [16, MAX_POINTS_PER_SERIES],
    [17, Math.floor(MAX_POINTS_PER_REQUEST / 17)],
    [64, 500],
    [1_000_000, 1],
  ])('gives each of %d series %d points', (count, points) => {
    expect(historyPointsPerSeries(count)).toBe(points);
  });
});
