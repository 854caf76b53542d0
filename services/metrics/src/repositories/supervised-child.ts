import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Whether it printed at least one line before it exited. */
  hadOutput: boolean;
  /** The end of its stderr, for the log. */
  stderr: string;
}

interface SupervisedChildEvents {
  line: [line: string];
  /** It exited by itself; it is restarted after `delayMs`. */
  exit: [exit: ChildExit, delayMs: number];
  /** The executable is missing (ENOENT/EACCES); probed again after `delayMs`. */
  absent: [error: Error, delayMs: number];
}

export interface SupervisedChildOptions {
  bin: string;
  backoff: { minMs: number; maxMs: number };
  /** How often a missing executable is looked for again. */
  absentRetryMs: number;
  /** SIGTERM, then SIGKILL after this long. */
  stopGraceMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * One long-lived child process that prints lines (e.g. `nvidia-smi ... -lms N`): spawned
 * asynchronously, restarted with capped exponential backoff when it exits (the backoff resets once
 * it has printed something), re-spawned at once with new arguments on `restart()`, and stopped with
 * SIGTERM then SIGKILL.
 */
export class SupervisedChild extends EventEmitter<SupervisedChildEvents> {
  private readonly options: SupervisedChildOptions;
  private args: string[] = [];
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = true;
  private generation = 0;
  starts = 0;

  constructor(options: SupervisedChildOptions) {
    super();
    this.options = options;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(args: string[]): void {
    this.args = args;
    this.stopped = false;
    this.failures = 0;
    this.clearTimer();
    if (this.child === null) {
      this.spawnChild();
    }
  }

  /** Stops the current child and starts a new one with `args` at once. */
  async restart(args: string[]): Promise<void> {
    await this.stop();
    this.start(args);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    const child = this.child;
    if (child === null) {
      return;
    }
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), this.options.stopGraceMs ?? 2000);
    await this.exited;
    clearTimeout(kill);
  }

  private spawnChild(): void {
    const generation = ++this.generation;
    let hadOutput = false;
    let stderr = '';
    const child = spawn(this.options.bin, this.args, { stdio: ['ignore', 'pipe', 'pipe'], env: this.options.env });
    this.child = child;
    this.starts++;
    child.stdout?.setEncoding('utf8');
    if (child.stdout) {
      createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
        if (!hadOutput) {
          hadOutput = true;
          this.failures = 0;
        }
        this.emit('line', line);
      });
    }
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    this.exited = new Promise((resolve) => {
      let finished = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError: NodeJS.ErrnoException | null): void => {
        if (finished) {
          return;
        }
        finished = true;
        resolve();
        if (this.child === child) {
          this.child = null;
        }
        if (this.stopped || generation !== this.generation) {
          return;
        }
        if (spawnError?.code === 'ENOENT' || spawnError?.code === 'EACCES') {
          this.schedule(this.options.absentRetryMs);
          this.emit('absent', spawnError, this.options.absentRetryMs);
          return;
        }
        const { minMs, maxMs } = this.options.backoff;
        const delay = hadOutput ? minMs : Math.min(maxMs, minMs * 2 ** this.failures);
        this.failures = hadOutput ? 0 : this.failures + 1;
        this.schedule(delay);
        this.emit('exit', { code, signal, hadOutput, stderr: spawnError?.message ?? stderr.trim() }, delay);
      };
      child.once('close', (code, signal) => finish(code, signal, null));
      child.once('error', (err: NodeJS.ErrnoException) => {
        // A failed spawn has no pid and may never emit 'close'.
        if (child.pid === undefined) {
          finish(null, null, err);
        }
      });
    });
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped && this.child === null) {
        this.spawnChild();
      }
    }, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
