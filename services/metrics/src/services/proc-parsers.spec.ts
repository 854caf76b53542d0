import { describe, expect, it } from 'vitest';
import {
  counterRate,
  cpuPercent,
  mountPointOf,
  parseCpuStat,
  parseLoadavg,
  parseMeminfo,
  parseNetDev,
  parsePidStat,
  parseUptime,
  parseVmRssBytes,
} from './proc-parsers.js';

const STAT = `cpu  100 10 50 800 40 0 5 0 7 0
cpu0 60 5 25 390 20 0 3 0 7 0
cpu1 40 5 25 410 20 0 2 0 0 0
intr 12345 0 0
ctxt 999
`;

describe(parseCpuStat.name, () => {
  const sut = parseCpuStat;

  it('reads the total and each core, idle including iowait, guest time not counted twice', () => {
    const stat = sut(STAT);

    expect(stat.all).toEqual({ busy: 165, total: 1005 });
    expect([...stat.cores.keys()]).toEqual([0, 1]);
    expect(stat.cores.get(0)).toEqual({ busy: 93, total: 503 });
  });
});

describe(cpuPercent.name, () => {
  const sut = cpuPercent;

  it.each([
    ['half busy', { busy: 100, total: 1000 }, { busy: 150, total: 1100 }, 50],
    ['idle', { busy: 100, total: 1000 }, { busy: 100, total: 1100 }, 0],
    ['no time passed', { busy: 100, total: 1000 }, { busy: 100, total: 1000 }, 0],
    ['no previous reading', undefined, { busy: 100, total: 1000 }, 0],
  ] as const)('%s', (_, prev, cur, expected) => {
    expect(sut(prev, cur)).toBe(expected);
  });
});

describe(parseMeminfo.name, () => {
  const sut = parseMeminfo;

  it('counts used memory as total minus available, and swap as total minus free', () => {
    const text = 'MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    600 kB\nBuffers: 10 kB\nCached: 300 kB\nSwapTotal:       200 kB\nSwapFree:        150 kB\n';

    expect(sut(text)).toEqual({ totalBytes: 1_024_000, usedBytes: 409_600, swapTotalBytes: 204_800, swapUsedBytes: 51_200 });
  });

  it('falls back to free + buffers + cached on kernels without MemAvailable', () => {
    expect(sut('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 290 kB\n').usedBytes).toBe(600 * 1024);
  });
});

describe(parseNetDev.name, () => {
  const sut = parseNetDev;
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5000      10    0    0    0     0          0         0     5000      10    0    0    0     0       0          0
  eth0: 1000      20    0    0    0     0          0         0      300       5    0    0    0     0       0          0
enp3s0: 2000      20    0    0    0     0          0         0      700       5    0    0    0     0       0          0
docker0: 900      20    0    0    0     0          0         0      900       5    0    0    0     0       0          0
veth1a2b: 800     20    0    0    0     0          0         0      800       5    0    0    0     0       0          0
br-1234: 700      20    0    0    0     0          0         0      700       5    0    0    0     0       0          0
`;

  it('sums the physical interfaces and leaves out loopback, bridges and container veths', () => {
    expect(sut(text)).toEqual({ rxBytes: 3000, txBytes: 1000 });
  });
});

describe(counterRate.name, () => {
  const sut = counterRate;

  it.each([
    ['a rising counter', 100, 150, 2, 25],
    ['a counter that was reset counts from zero', 100, 30, 1, 30],
    ['no previous value', undefined, 30, 1, 0],
    ['no time passed', 10, 30, 0, 0],
  ] as const)('%s', (_, prev, cur, seconds, expected) => {
    expect(sut(prev, cur, seconds)).toBe(expected);
  });
});

describe(parsePidStat.name, () => {
  const sut = parsePidStat;

  it('reads a command name holding spaces and parentheses', () => {
    const text = '4242 (llama (x) server) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 3 4 20 0 9 0 123456 1000000 500 18446744073709551615\n';

    expect(sut(text)).toEqual({ comm: 'llama (x) server', state: 'S', ppid: 1, cpuTicks: 325, startTicks: 123456 });
  });

  it('rejects text that is not a stat line', () => {
    expect(sut('')).toBeNull();
  });
});

describe(parseVmRssBytes.name, () => {
  it('reads VmRSS in bytes, and 0 when the process has none (a kernel thread)', () => {
    expect(parseVmRssBytes('Name:\tllama-server\nVmRSS:\t   20480 kB\nRssAnon:\t 100 kB\n')).toBe(20_971_520);
    expect(parseVmRssBytes('Name:\tkthreadd\n')).toBe(0);
  });
});

describe(parseLoadavg.name, () => {
  it('reads the three averages', () => {
    expect(parseLoadavg('0.52 1.10 2.00 2/345 6789\n')).toEqual([0.52, 1.1, 2]);
  });
});

describe(parseUptime.name, () => {
  it('reads seconds since boot', () => {
    expect(parseUptime('3600.25 7000.10\n')).toBe(3600.25);
  });
});

describe(mountPointOf.name, () => {
  const sut = mountPointOf;
  const mountinfo = [
    '22 27 0:21 / / rw,relatime - ext4 /dev/sda1 rw',
    '30 22 0:40 / /data rw,relatime - ext4 /dev/sdb1 rw',
    '31 22 0:41 / /data/my\\040models rw,relatime - xfs /dev/sdc1 rw',
    '32 22 0:42 / /dat rw,relatime - tmpfs tmpfs rw',
  ].join('\n');

  it.each([
    ['/data/db', '/data'],
    ['/data', '/data'],
    ['/data/my models/a.gguf', '/data/my models'],
    ['/database', '/'],
    ['/srv', '/'],
  ])('%s is on %s', (path, mount) => {
    expect(sut(mountinfo, path)).toBe(mount);
  });
});
