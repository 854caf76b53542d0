import { sampleSeries } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { sample } from '../test-support/fixtures.js';
import { DashboardSeries, combineSeries, mean } from './metric-series.js';

const point = (ts: number, avg: number) => ({ ts, min: avg, avg, max: avg });

describe('metric series', () => {
  it('asks only for series that the gateway stores', () => {
    const s = {
      ...sample(1, 42),
      gpus: [{ index: 0, utilizationPct: 70, memoryUsedBytes: null, temperatureC: null, powerDrawW: null } as never],
      models: [{ modelId: 'q', genTokensPerSec: 12, promptTokensPerSec: 30, requestsProcessing: 0, kvCacheUsage: null } as never],
    };
    const stored = Object.keys(sampleSeries(s));
    const used = [DashboardSeries.cpu, DashboardSeries.memory, DashboardSeries.gpuUtil(0), DashboardSeries.modelGen('q')];
    expect(stored).toEqual(expect.arrayContaining(used));
  });

  it('combines series point by point', () => {
    expect(combineSeries([[point(1, 10)], [point(1, 30), point(2, 50)]], mean)).toEqual([
      { ts: 1, value: 20 },
      { ts: 2, value: 50 },
    ]);
    expect(combineSeries([[point(1, 2)]], ([v]) => (v === undefined ? null : v * 2))).toEqual([{ ts: 1, value: 4 }]);
  });
});
