import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@llamaproxy/tests/harness';
import { ProcessTable } from './process-table.js';

describe(ProcessTable.name, () => {
  let dir: string;
  const children: ChildProcess[] = [];
  let name: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'process-table-'));
    // A process's name (comm) is the file name it was started as: a link to `sleep` under a unique name.
    name = `lp-${process.pid % 100_000}-${Math.floor(Math.random() * 1000)}`;
    symlinkSync('/bin/sleep', join(dir, name));
  });
  afterEach(() => {
    for (const child of children.splice(0)) {
      child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (): ChildProcess => {
    const child = spawn(join(dir, name), ['60'], { stdio: 'ignore' });
    children.push(child);
    return child;
  };

  it('finds the processes of that name with their CPU time and resident memory', async () => {
    const a = start();
    const b = start();
    const sut = new ProcessTable(name);

    const readings = await waitFor(async () => {
      const r = await sut.scan();
      return r.length === 2 ? r : undefined;
    }, { what: 'two processes' });

    expect(readings.map((r) => r.pid).sort()).toEqual([a.pid, b.pid].sort());
    for (const r of readings) {
      expect(r.rssBytes).toBeGreaterThan(0);
      expect(r.cpuTicks).toBeGreaterThanOrEqual(0);
      expect(r.startTicks).toBeGreaterThan(0);
    }
    sut.close();
  });

  it('forgets a process that exited, and finds a new one after rescan()', async () => {
    const a = start();
    const sut = new ProcessTable(name);
    await waitFor(async () => (await sut.scan()).length === 1, { what: 'first process' });

    a.kill('SIGKILL');
    await waitFor(async () => (await sut.scan()).length === 0, { what: 'process gone' });
    const b = start();
    sut.rescan();

    const readings = await waitFor(async () => {
      const r = await sut.scan();
      return r.length === 1 ? r : undefined;
    }, { what: 'second process' });
    expect(readings[0]?.pid).toBe(b.pid);
    sut.close();
  });

  it('ignores processes of other names', async () => {
    start();
    const sut = new ProcessTable(`${name}-other`);

    expect(await sut.scan()).toEqual([]);
    sut.close();
  });
});
