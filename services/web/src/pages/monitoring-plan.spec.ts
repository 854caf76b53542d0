import { sampleSeries } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { sample } from '../test-support/fixtures.js';
import { planCharts, planKey } from './monitoring-plan.js';

const full = {
  ...sample(1),
  disks: [{ label: 'root', mount: '/', totalBytes: 100, usedBytes: 50 }],
  llamaProcess: { cpuPct: 3, memoryBytes: 10, processCount: 2 },
  gpus: [
    {
      index: 0, uuid: null, name: 'RTX', utilizationPct: 50, memoryUsedBytes: 1, memoryTotalBytes: 2, temperatureC: 60,
      powerDrawW: 100, powerLimitW: null, fanPct: null, clockSmMhz: null, clockMemMhz: null, processes: [],
    },
  ],
  models: [{ modelId: 'q', promptTokensPerSec: 1, genTokensPerSec: 2, promptTokensTotal: 0, genTokensTotal: 0, requestsProcessing: 0, requestsDeferred: 0, busySlots: 0, totalSlots: 1, kvCacheUsage: 0.1 }],
};

describe('planCharts', () => {
  it('plans charts for every disk, GPU and model, reading only stored series', () => {
    const plan = planCharts(full, ['other']);
    expect(plan.map((c) => c.id)).toEqual(['cpu', 'memory', 'disk', 'network', 'gpu-0', 'gpu-temp', 'gen', 'prompt']);
    const stored = Object.keys(sampleSeries(full));
    const planned = plan.flatMap((c) => c.lines.map((l) => l.series)).filter((s) => !s.includes('.other.'));
    expect(stored).toEqual(expect.arrayContaining(planned));
  });

  it('plans the basics without a sample and changes its key when hardware appears', () => {
    const empty = planCharts(null, []);
    expect(empty.map((c) => c.id)).toEqual(['cpu', 'memory', 'network']);
    expect(planKey(empty)).not.toBe(planKey(planCharts(full, [])));
  });
});
