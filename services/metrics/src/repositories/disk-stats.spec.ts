import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { DiskStats } from './disk-stats.js';

describe(DiskStats.name, () => {
  it('reports the filesystem of each directory like df: total = used + available to users', async () => {
    const sut = new DiskStats([{ label: 'models', path: tmpdir() }]);

    const [disk] = await sut.read();

    const fs = statfsSync(tmpdir());
    expect(disk).toMatchObject({ label: 'models' });
    expect(tmpdir().startsWith(disk!.mount)).toBe(true);
    expect(disk!.totalBytes).toBe((fs.blocks - fs.bfree + fs.bavail) * fs.bsize);
    expect(disk!.totalBytes - disk!.usedBytes).toBeGreaterThan(0);
    sut.close();
  });

  it('leaves out a directory that does not exist', async () => {
    const sut = new DiskStats([
      { label: 'models', path: '/nonexistent/models' },
      { label: 'data', path: tmpdir() },
    ]);

    expect((await sut.read()).map((d) => d.label)).toEqual(['data']);
    sut.close();
  });
});
