import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { appQueryArgs, gpuQueryArgs, parseAppLine, parseGpuLine, smiNumber } from './nvidia-csv.js';

const MIB = 1024 * 1024;
// Output of a real nvidia-smi on an H100 (see the fixture's header).
const captured = readFileSync(new URL('./__fixtures__/nvidia-smi-h100.txt', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'));

describe(parseGpuLine.name, () => {
  const sut = parseGpuLine;

  it('reads a real H100 line: MiB to bytes, a fan that does not exist as null', () => {
    expect(sut(captured[0] ?? '')).toEqual({
      index: 0,
      uuid: 'GPU-cca07263-9b43-d41d-48e7-b48b41aa68b3',
      name: 'NVIDIA H100 80GB HBM3',
      utilizationPct: 0,
      memoryUsedBytes: 1643 * MIB,
      memoryTotalBytes: 81559 * MIB,
      temperatureC: 38,
      powerDrawW: 87.09,
      powerLimitW: 700,
      fanPct: null,
      clockSmMhz: 1980,
      clockMemMhz: 2619,
    });
  });

  it('turns every bracketed nvidia-smi placeholder into null', () => {
    const reading = sut('1, GPU-1, Tesla T4, [Not Supported], 10, 15360, [Unknown Error], [N/A], [Insufficient Permissions], 30, 300, 5000');

    expect(reading).toMatchObject({ index: 1, utilizationPct: null, temperatureC: null, powerDrawW: null, powerLimitW: null, fanPct: 30 });
  });

  it('keeps a GPU name that itself contains ", "', () => {
    expect(sut('2, GPU-2, Odd, Name, 5, 1, 2, 30, 50.5, 70.0, 40, 1000, 2000')).toMatchObject({ index: 2, name: 'Odd, Name', utilizationPct: 5 });
  });

  it.each(['', 'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.', 'x, y, z'])('rejects %j', (line) => {
    expect(sut(line)).toBeNull();
  });
});

describe(parseAppLine.name, () => {
  const sut = parseAppLine;

  it('reads a real compute process line', () => {
    expect(sut(captured[2] ?? '')).toEqual({
      timestamp: '2026/11/26 11:11:50.940',
      gpuUuid: 'GPU-cca07263-9b43-d41d-48e7-b48b41aa68b3',
      pid: 528,
      name: 'python3',
      memoryUsedBytes: 1634 * MIB,
    });
  });

  it('keeps a process path with ", " and a memory figure that is not available', () => {
    expect(sut('2026/01/01 00:00:00.000, GPU-1, 77, /opt/a, b/llama-server, [N/A]')).toMatchObject({ pid: 77, name: '/opt/a, b/llama-server', memoryUsedBytes: null });
  });

  it('ignores "No running processes found"', () => {
    expect(sut('No running processes found')).toBeNull();
  });
});

describe(smiNumber.name, () => {
  it.each([
    ['42', 42],
    [' 73.12 ', 73.12],
    ['345 MHz', 345],
    ['[N/A]', null],
    ['N/A', null],
    ['', null],
    [undefined, null],
  ] as const)('%j → %j', (value, expected) => {
    expect(smiNumber(value)).toBe(expected);
  });
});

describe('nvidia-smi arguments', () => {
  it('asks for one line per item every interval, without header or units', () => {
    expect(gpuQueryArgs(2000)).toEqual([
      '--query-gpu=index,uuid,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,power.limit,fan.speed,clocks.sm,clocks.mem',
      '--format=csv,noheader,nounits',
      '-lms',
      '2000',
    ]);
    expect(appQueryArgs(500)).toEqual(['--query-compute-apps=timestamp,gpu_uuid,pid,process_name,used_memory', '--format=csv,noheader,nounits', '-lms', '500']);
  });
});
