import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { GPU_APPS_ARGS, GPU_LIST_ARGS, parseGpuList, parseGpuProcesses, type GpuInfo, type GpuProcessMemory } from '../services/placement/device-budget.js';

/**
 * The I/O of placement's measurements: the host's memory, the model instances' processes in
 * `/proc` and, on an NVIDIA host, `nvidia-smi`.
 */
export class InstanceMemory {
  private readonly procRoot: string;
  private readonly nvidiaSmi: string;
  private gpusMissing = false;

  constructor(options: { procRoot?: string; nvidiaSmi?: string } = {}) {
    this.procRoot = options.procRoot ?? '/proc';
    this.nvidiaSmi = options.nvidiaSmi ?? 'nvidia-smi';
  }

  /** Host memory in bytes: the machine's, or the container's cgroup limit when that is lower. */
  async ramTotalBytes(): Promise<number> {
    const total = totalmem();
    for (const path of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
      const text = await readFile(path, 'utf8').catch(() => null);
      const limit = text === null ? Number.NaN : Number(text.trim());
      if (Number.isFinite(limit) && limit > 0) {
        return Math.min(total, limit);
      }
    }
    return total;
  }

  /** The GPUs `nvidia-smi` lists; none when it is not installed or fails (a CPU-only host). */
  async gpus(): Promise<GpuInfo[]> {
    const out = await this.smi(GPU_LIST_ARGS);
    return out === null ? [] : parseGpuList(out);
  }

  /** Per-process GPU memory; empty without GPUs. */
  async gpuProcesses(): Promise<GpuProcessMemory[]> {
    const out = await this.smi(GPU_APPS_ARGS);
    return out === null ? [] : parseGpuProcesses(out);
  }

  /**
   * The pid of the model instance the router `routerPid` spawned to listen on `port` (the router
   * gives each instance `--port <n>`), or null when there is none.
   */
  async instancePid(routerPid: number, port: number): Promise<number | null> {
    const entries = await readdir(this.procRoot).catch(() => [] as string[]);
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) {
        continue;
      }
      const stat = await readFile(`${this.procRoot}/${entry}/stat`, 'latin1').catch(() => null);
      // pid (comm) state ppid ...: comm may contain spaces and parentheses, so split after the last ')'.
      const ppid = stat === null ? Number.NaN : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== routerPid) {
        continue;
      }
      const cmdline = await readFile(`${this.procRoot}/${entry}/cmdline`, 'utf8').catch(() => '');
      const args = cmdline.split('\0');
      const at = args.indexOf('--port');
      if (at >= 0 && Number(args[at + 1]) === port) {
        return Number(entry);
      }
    }
    return null;
  }

  /** Resident memory of `pid` in bytes (`VmRSS`), or null when it is gone. */
  async rssBytes(pid: number): Promise<number | null> {
    const status = await readFile(`${this.procRoot}/${pid}/status`, 'latin1').catch(() => null);
    const match = status === null ? null : /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match === null ? null : Number(match[1]) * 1024;
  }

  private async smi(args: string[]): Promise<string | null> {
    if (this.gpusMissing) {
      return null;
    }
    return new Promise((resolve) => {
      execFile(this.nvidiaSmi, args, { timeout: 10_000 }, (err, stdout) => {
        if (err !== null) {
          // Not installed: a CPU-only host; never asked again.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            this.gpusMissing = true;
          }
          resolve(null);
          return;
        }
        resolve(stdout);
      });
    });
  }
}
