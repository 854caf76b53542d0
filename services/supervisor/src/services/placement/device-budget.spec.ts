import { describe, expect, it } from 'vitest';
import { deviceBudgets, parseByteSize, parseGpuList, parseGpuProcesses } from './device-budget.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe(parseGpuList.name, () => {
  it('reads index, uuid, name (which may hold ", ") and total memory in MiB', () => {
    const csv = [
      '0, GPU-4b2f1c3a-0000-1111-2222-333344445555, NVIDIA GeForce RTX 4090, 24564',
      '1, GPU-9e8d7c6b-aaaa-bbbb-cccc-ddddeeeeffff, NVIDIA H100 80GB HBM3, Rev 2, 81559',
      '',
    ].join('\n');
    expect(parseGpuList(csv)).toEqual([
      { index: 0, uuid: 'GPU-4b2f1c3a-0000-1111-2222-333344445555', name: 'NVIDIA GeForce RTX 4090', totalBytes: 24564 * MiB },
      { index: 1, uuid: 'GPU-9e8d7c6b-aaaa-bbbb-cccc-ddddeeeeffff', name: 'NVIDIA H100 80GB HBM3, Rev 2', totalBytes: 81559 * MiB },
    ]);
  });

  it('skips what is not a GPU line', () => {
    expect(parseGpuList('No devices were found\n')).toEqual([]);
    expect(parseGpuList('NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.')).toEqual([]);
    expect(parseGpuList('0, GPU-1, Card, [N/A]')).toEqual([]);
  });
});

describe(parseGpuProcesses.name, () => {
  it('reads pid, GPU and used memory; skips "[N/A]" and messages', () => {
    const csv = ['4242, GPU-4b2f1c3a-0000-1111-2222-333344445555, 1536', '4343, GPU-4b2f1c3a-0000-1111-2222-333344445555, [N/A]', 'No running processes found'].join('\n');
    expect(parseGpuProcesses(csv)).toEqual([{ pid: 4242, gpuUuid: 'GPU-4b2f1c3a-0000-1111-2222-333344445555', usedBytes: 1536 * MiB }]);
  });
});

describe(deviceBudgets.name, () => {
  const gpus = [{ index: 0, uuid: 'GPU-a', name: 'RTX', totalBytes: 24 * GiB }];

  it('budgets each GPU at total minus the reserve, and RAM at total minus its reserve', () => {
    const sut = deviceBudgets({ ramTotalBytes: 64 * GiB, ramBudgetBytes: null, ramReserveBytes: 2 * GiB, gpus, gpuReserveBytes: 512 * MiB }, [{ cpu: GiB, cuda0: 10 * GiB }]);
    expect(sut).toEqual([
      { id: 'cpu', kind: 'ram', name: 'RAM', totalBytes: 64 * GiB, reserveBytes: 2 * GiB, budgetBytes: 62 * GiB, usedBytes: GiB, freeBytes: 61 * GiB },
      { id: 'cuda0', kind: 'gpu', name: 'RTX', totalBytes: 24 * GiB, reserveBytes: 512 * MiB, budgetBytes: 24 * GiB - 512 * MiB, usedBytes: 10 * GiB, freeBytes: 14 * GiB - 512 * MiB },
    ]);
  });

  it('takes RAM_BUDGET as given (capped at the total), and free is never negative', () => {
    const sut = deviceBudgets({ ramTotalBytes: 8 * GiB, ramBudgetBytes: 300 * MiB, ramReserveBytes: GiB, gpus: [], gpuReserveBytes: 0 }, [{ cpu: 200 * MiB }, { cpu: 200 * MiB }]);
    expect(sut).toEqual([{ id: 'cpu', kind: 'ram', name: 'RAM', totalBytes: 8 * GiB, reserveBytes: 8 * GiB - 300 * MiB, budgetBytes: 300 * MiB, usedBytes: 400 * MiB, freeBytes: 0 }]);
    expect(deviceBudgets({ ramTotalBytes: GiB, ramBudgetBytes: 4 * GiB, ramReserveBytes: 0, gpus: [], gpuReserveBytes: 0 }, [])[0]?.budgetBytes).toBe(GiB);
  });
});

describe(parseByteSize.name, () => {
  it.each([
    ['1048576', MiB],
    ['512M', 512 * MiB],
    ['512MiB', 512 * MiB],
    ['8 GiB', 8 * GiB],
    ['1.5g', 1.5 * GiB],
    ['2GB', 2 * GiB],
  ])('%s', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1G', '5 X'])('refuses %j', (text) => {
    expect(parseByteSize(text)).toBeNull();
  });
});
