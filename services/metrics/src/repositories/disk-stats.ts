import { realpath, statfs } from 'node:fs/promises';
import { mountPointOf } from '../services/proc-parsers.js';
import { ProcFile } from './proc-file.js';

export interface DiskReading {
  label: string;
  mount: string;
  totalBytes: number;
  usedBytes: number;
}

/** Mount points are looked up again after this long (a volume may be mounted later). */
const MOUNT_REFRESH_MS = 60_000;

/**
 * Usage of the filesystems holding given directories (the models directory, the data volume),
 * with `statfs` (asynchronous: a network filesystem may be slow to answer). Sizes follow `df`:
 * total = used + available to unprivileged users, so total − used is the free space a model
 * download can really use (root's reserved blocks are left out).
 */
export class DiskStats {
  private readonly disks: { label: string; path: string }[];
  private readonly mountinfo = new ProcFile('/proc/self/mountinfo', 16_384);
  private readonly mounts = new Map<string, string>();
  private mountsAt = 0;

  constructor(disks: { label: string; path: string }[]) {
    this.disks = disks;
  }

  /** A directory that does not exist (yet) is left out. */
  async read(): Promise<DiskReading[]> {
    const refresh = Date.now() - this.mountsAt > MOUNT_REFRESH_MS;
    if (refresh) {
      this.mountsAt = Date.now();
    }
    const results = await Promise.all(
      this.disks.map(async ({ label, path }): Promise<DiskReading | null> => {
        try {
          const fs = await statfs(path);
          if (refresh || !this.mounts.has(path)) {
            this.mounts.set(path, await this.mountOf(path));
          }
          const used = (fs.blocks - fs.bfree) * fs.bsize;
          return { label, mount: this.mounts.get(path) ?? path, totalBytes: used + fs.bavail * fs.bsize, usedBytes: used };
        } catch {
          return null;
        }
      }),
    );
    return results.filter((r): r is DiskReading => r !== null);
  }

  private async mountOf(path: string): Promise<string> {
    const real = await realpath(path).catch(() => path);
    const text = this.mountinfo.tryRead();
    return (text === null ? null : mountPointOf(text, real)) ?? real;
  }

  close(): void {
    this.mountinfo.close();
  }
}
