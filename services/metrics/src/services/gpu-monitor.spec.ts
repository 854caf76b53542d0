import { createLogger } from '@llamaproxy/shared/node';
import { describe, expect, it } from 'vitest';
import { SupervisedChild } from '../repositories/supervised-child.js';
import { GpuMonitor } from './gpu-monitor.js';

const MIB = 1024 * 1024;
const GPU0 = '0, GPU-aaa, NVIDIA H100 80GB HBM3, 80, 1643, 81559, 38, 87.09, 700.00, [N/A], 1980, 2619';
const GPU1 = '1, GPU-bbb, NVIDIA H100 80GB HBM3, 5, 0, 81559, 30, 70.00, 700.00, [N/A], 345, 2619';

/** A monitor whose nvidia-smi children are never started: the test feeds their output lines. */
function setup() {
  let now = 0;
  const gpus = new SupervisedChild({ bin: 'unused', backoff: { minMs: 1, maxMs: 1 }, absentRetryMs: 1 });
  const apps = new SupervisedChild({ bin: 'unused', backoff: { minMs: 1, maxMs: 1 }, absentRetryMs: 1 });
  const sut = new GpuMonitor({ gpus, apps, logger: createLogger({ service: 'test', level: 'error' }), now: () => now });
  return {
    sut,
    gpuLine: (line: string) => gpus.emit('line', line),
    appLine: (line: string) => apps.emit('line', line),
    advance: (ms: number) => (now += ms),
  };
}

describe(GpuMonitor.name, () => {
  it('is empty before nvidia-smi printed anything', () => {
    expect(setup().sut.snapshot()).toEqual([]);
  });

  it('keeps the latest line of each GPU, ordered by index, with the processes on it', () => {
    const { sut, gpuLine, appLine } = setup();
    gpuLine(GPU1);
    gpuLine(GPU0);
    gpuLine(GPU0.replace(', 80, ', ', 90, '));
    appLine('2026/11/26 11:11:50.940, GPU-aaa, 528, /usr/bin/llama-server, 1634');
    appLine('2026/11/26 11:11:50.940, GPU-aaa, 529, python3, 10');

    const gpus = sut.snapshot();

    expect(gpus.map((g) => [g.index, g.utilizationPct])).toEqual([[0, 90], [1, 5]]);
    expect(gpus[0]?.processes).toEqual([
      { pid: 528, name: '/usr/bin/llama-server', memoryUsedBytes: 1634 * MIB },
      { pid: 529, name: 'python3', memoryUsedBytes: 10 * MIB },
    ]);
    expect(gpus[1]?.processes).toEqual([]);
  });

  it('replaces the process list with each new loop iteration', () => {
    const { sut, gpuLine, appLine } = setup();
    gpuLine(GPU0);
    appLine('2026/11/26 11:11:50.940, GPU-aaa, 528, a, 1');
    appLine('2026/11/26 11:11:50.940, GPU-aaa, 529, b, 1');
    appLine('2026/11/26 11:11:52.940, GPU-aaa, 529, b, 2');

    expect(sut.snapshot()[0]?.processes).toEqual([{ pid: 529, name: 'b', memoryUsedBytes: 2 * MIB }]);
  });

  it('drops figures older than two intervals: a stalled nvidia-smi shows nothing rather than stale numbers', () => {
    const { sut, gpuLine, appLine, advance } = setup(); // At the default 2 s interval: 5 s at most.
    gpuLine(GPU0);
    appLine('2026/11/26 11:11:50.940, GPU-aaa, 528, a, 1');
    advance(4000);
    gpuLine(GPU0);
    expect(sut.snapshot()[0]?.processes).toHaveLength(1);

    advance(1500);
    expect(sut.snapshot()[0]?.processes).toEqual([]);
    advance(4000);
    expect(sut.snapshot()).toEqual([]);
  });

  it('ignores lines it cannot read', () => {
    const { sut, gpuLine } = setup();
    gpuLine('');
    gpuLine('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.');

    expect(sut.snapshot()).toEqual([]);
  });
});
