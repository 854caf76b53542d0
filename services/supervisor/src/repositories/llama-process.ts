import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface LlamaProcessEvents {
  line: [line: string];
  exit: [exit: ProcessExit];
}

/**
 * The environment of llama-server: this process's, with `LLAMA_API_KEY` set to `apiKey` or removed
 * when there is none (an empty inherited value must not reach llama-server). llama-server reads its
 * `--api-key` from this variable, and in router mode every model instance inherits the router's
 * environment, so the key never appears in an argument list (the process table, the router's log
 * of its instances' arguments, `/models`, the dashboard).
 */
export function llamaEnv(apiKey: string | null, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  delete env.LLAMA_API_KEY;
  delete env.LLAMA_API_KEY_FILE;
  if (apiKey !== null) {
    env.LLAMA_API_KEY = apiKey;
  }
  return env;
}

/**
 * One llama-server process: spawned in its own process group (so its model instances can be
 * reaped with it), output split into lines, stopped with SIGTERM then SIGKILL.
 */
export class LlamaProcess extends EventEmitter<LlamaProcessEvents> {
  private readonly child: ChildProcess;
  private exitInfo: ProcessExit | null = null;
  readonly exited: Promise<ProcessExit>;

  /**
   * `cwd` is the models directory in production, so that relative paths in arguments and presets
   * mean files there (the flag policy judges them so); by default this process's directory.
   */
  constructor(bin: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string) {
    super();
    this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env, cwd });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) {
        createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.emit('line', line));
      }
    }
    this.exited = new Promise((resolve) => {
      const finish = (exit: ProcessExit): void => {
        if (this.exitInfo !== null) {
          return;
        }
        this.exitInfo = exit;
        this.killGroup('SIGKILL');
        this.emit('exit', exit);
        resolve(exit);
      };
      this.child.once('exit', (code, signal) => finish({ code, signal }));
      this.child.once('error', (err) => {
        this.emit('line', `failed to start ${bin}: ${err.message}`);
        finish({ code: 127, signal: null });
      });
    });
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  /** SIGTERM (llama-server unloads its instances), SIGKILL to the group after `graceMs`. */
  async stop(graceMs: number): Promise<ProcessExit> {
    if (this.exitInfo !== null) {
      return this.exitInfo;
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.killGroup('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  private killGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) {
      return;
    }
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}
