import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from '@llamaproxy/shared/node';

/**
 * Remembers the process group of the llama-server this supervisor started, in its data directory.
 * llama-server runs in its own process group (so its model instances go with it), which also means
 * it outlives a supervisor killed with SIGKILL: the next supervisor would find the port taken and
 * an orphan answering its health checks. At start the supervisor reaps such a leftover group.
 */
export class LlamaPidFile {
  readonly path: string;
  private readonly bin: string;

  constructor(path: string, bin: string) {
    this.path = path;
    this.bin = bin;
  }

  /** Records a freshly spawned llama-server (its pid is its process group id). */
  record(pid: number | null): void {
    if (pid === null) {
      return;
    }
    try {
      writeFileSync(this.path, `${pid}\n`);
    } catch {
      // Best effort: without the file a leftover is only not reaped.
    }
  }

  /**
   * Kills the process group of a llama-server left by an earlier supervisor (only when the
   * recorded process still runs this binary), and waits until it is gone. Returns its pid, or null.
   */
  async reapLeftover(logger: Logger, timeoutMs = 10_000): Promise<number | null> {
    const pid = Number((await readFile(this.path, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 1 || !runs(pid, this.bin)) {
      return null;
    }
    logger.warn('killing the llama-server left by an earlier supervisor', { pid });
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      return null;
    }
    const deadline = Date.now() + timeoutMs;
    while (runs(pid, this.bin) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return pid;
  }
}

/** Whether `pid` is a live (not zombie) process whose executable is `bin`. */
function runs(pid: number, bin: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) {
      return false;
    }
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    return argv0 === bin || argv0.endsWith(`/${bin}`);
  } catch {
    return false;
  }
}
