import { cpus, totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { HostStats } from './host-stats.js';

describe(HostStats.name, () => {
  it("reads this machine's CPU, memory, load, uptime and network from /proc", () => {
    const sut = new HostStats('/proc');

    const reading = sut.read();

    expect(reading.cpu.cores.size).toBe(cpus().length);
    expect(reading.cpu.all.total).toBeGreaterThan(reading.cpu.all.busy);
    expect(reading.memory.totalBytes).toBe(totalmem());
    expect(reading.memory.usedBytes).toBeGreaterThan(0);
    expect(reading.memory.usedBytes).toBeLessThan(reading.memory.totalBytes);
    expect(reading.load).toHaveLength(3);
    expect(reading.uptimeSec).toBeGreaterThan(0);
    expect(reading.network).not.toBeNull();
    expect(sut.networkSource).toMatch(/^\/proc\/(1|self)\/net\/dev$/);
    sut.close();
  });

  it('re-reads the same open files with fresh content', () => {
    const sut = new HostStats('/proc');
    const first = sut.read();

    const second = sut.read();

    expect(second.cpu.all.total).toBeGreaterThanOrEqual(first.cpu.all.total);
    expect(second.uptimeSec).toBeGreaterThanOrEqual(first.uptimeSec);
    sut.close();
  });

  it('fails loudly when the procfs is not there', () => {
    const sut = new HostStats('/nonexistent-proc');

    expect(() => sut.read()).toThrow(/ENOENT/);
  });
});
