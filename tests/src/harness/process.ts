import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ManagedProcessOptions extends SpawnOptions {
  /** Name used in error messages. */
  name: string;
  /** Lines of output kept for diagnostics. */
  keepLines?: number;
  /** Also print the output (useful when debugging a test). */
  echo?: boolean;
}

const live = new Set<ManagedProcess>();

/**
 * A child process started by a test: its output is kept (last N lines) for error messages,
 * it is stopped with SIGTERM then SIGKILL, and every one still alive is killed at exit.
 */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  private readonly keepLines: number;
  private readonly listeners = new Set<(line: string) => void>();
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;

  constructor(command: string, args: string[], options: ManagedProcessOptions) {
    this.name = options.name;
    this.keepLines = options.keepLines ?? 400;
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    live.add(this);
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) {
          continue;
        }
        this.lines.push(line);
        if (this.lines.length > this.keepLines) {
          this.lines.shift();
        }
        if (options.echo) {
          process.stderr.write(`[${this.name}] ${line}\n`);
        }
        for (const listener of this.listeners) {
          listener(line);
        }
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve();
      });
      this.child.once('error', (err) => {
        this.lines.push(`spawn error: ${err.message}`);
        live.delete(this);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && live.has(this);
  }

  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves with the first output line matching `pattern`. */
  async waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen !== undefined) {
      return seen;
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.name}: no line matching ${pattern} within ${timeoutMs} ms\n${this.tail()}`));
      }, timeoutMs);
      const off = this.onLine((line) => {
        if (pattern.test(line)) {
          clearTimeout(timer);
          off();
          resolve(line);
        }
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        off();
        reject(new Error(`${this.name} exited (${this.exitCode ?? this.exitSignal}) before printing ${pattern}\n${this.tail()}`));
      });
    });
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) {
      return;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }
}

process.once('exit', () => {
  for (const p of live) {
    p.child.kill('SIGKILL');
  }
});

/** Whether a process with this pid exists (a zombie counts until it is reaped). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The fields of /proc/<pid>/stat after the command name, or null when the process is gone. */
function procStat(pid: number): { state: string; ppid: number; pgrp: number } | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces or parentheses itself.
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgrp: Number(fields[2]) };
  } catch {
    return null;
  }
}

/** Live (not zombie) processes of process group `pgid`, from /proc. */
export function processGroupMembers(pgid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const stat = procStat(pid);
      return stat !== null && stat.pgrp === pgid && stat.state !== 'Z';
    });
}

/** Direct children of `pid` that are alive (not zombies), from /proc. */
export function childProcesses(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => {
      const stat = procStat(child);
      return stat !== null && stat.ppid === pid && stat.state !== 'Z';
    });
}

/** The command line of a process ('' when it is gone). */
export function processCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Sends `signal` to every process of group `pgid`; false when the group was already gone. */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}
