import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '@llamaproxy/tests/harness';
import { SupervisedChild, type ChildExit } from './supervised-child.js';

describe(SupervisedChild.name, () => {
  let dir: string;
  let sut: SupervisedChild | null = null;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'supervised-child-'));
  });
  afterEach(async () => {
    await sut?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A real executable: prints its arguments `lines` times, then exits (or keeps running). */
  function script(lines: number, exitAfter: boolean): string {
    const path = join(dir, 'printer');
    writeFileSync(path, `#!/bin/sh\ni=0\nwhile [ $i -lt ${lines} ]; do echo "line $i $*"; i=$((i+1)); done\n${exitAfter ? 'exit 3' : 'exec sleep 60'}\n`, { mode: 0o755 });
    return path;
  }

  it('restarts a child that exits, and passes its lines on', async () => {
    const lines: string[] = [];
    const exits: ChildExit[] = [];
    sut = new SupervisedChild({ bin: script(2, true), backoff: { minMs: 10, maxMs: 100 }, absentRetryMs: 60_000 });
    sut.on('line', (l) => lines.push(l));
    sut.on('exit', (e) => exits.push(e));

    sut.start(['-lms', '500']);
    await waitFor(() => sut!.starts >= 3, { what: 'three starts' });

    expect(lines.slice(0, 2)).toEqual(['line 0 -lms 500', 'line 1 -lms 500']);
    expect(exits[0]).toMatchObject({ code: 3, signal: null, hadOutput: true });
  });

  it('reports a missing executable once and does not spin', async () => {
    const absent: Error[] = [];
    sut = new SupervisedChild({ bin: join(dir, 'nvidia-smi'), backoff: { minMs: 1, maxMs: 1 }, absentRetryMs: 60_000 });
    sut.on('absent', (err) => absent.push(err));

    sut.start([]);
    await waitFor(() => absent.length > 0, { what: 'absent' });

    expect(absent[0]?.message).toContain('ENOENT');
    expect(sut.starts).toBe(1);
    expect(sut.running).toBe(false);
  });

  it('backs off when the child keeps failing without output', async () => {
    const delays: number[] = [];
    sut = new SupervisedChild({ bin: script(0, true), backoff: { minMs: 5, maxMs: 40 }, absentRetryMs: 60_000 });
    sut.on('exit', (_e, delayMs) => delays.push(delayMs));

    sut.start([]);
    await waitFor(() => delays.length >= 5, { what: 'five exits' });

    expect(delays.slice(0, 5)).toEqual([5, 10, 20, 40, 40]);
  });

  it('restart() replaces a running child with one that has the new arguments', async () => {
    const lines: string[] = [];
    sut = new SupervisedChild({ bin: script(1, false), backoff: { minMs: 10, maxMs: 100 }, absentRetryMs: 60_000 });
    sut.on('line', (l) => lines.push(l));
    sut.start(['-lms', '2000']);
    await waitFor(() => lines.length === 1, { what: 'first line' });
    const firstPid = sut.pid;

    await sut.restart(['-lms', '1000']);
    await waitFor(() => lines.length === 2, { what: 'second line' });

    expect(lines).toEqual(['line 0 -lms 2000', 'line 0 -lms 1000']);
    expect(sut.pid).not.toBe(firstPid);
    expect(() => process.kill(firstPid!, 0)).toThrow();
  });

  it('stop() ends the child and it stays stopped', async () => {
    sut = new SupervisedChild({ bin: script(1, false), backoff: { minMs: 1, maxMs: 1 }, absentRetryMs: 60_000 });
    sut.start([]);
    await waitFor(() => sut!.pid !== null, { what: 'pid' });
    const pid = sut.pid!;

    await sut.stop();

    expect(sut.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(sut.starts).toBe(1);
  });
});
