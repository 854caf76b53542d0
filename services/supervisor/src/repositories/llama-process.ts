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

/** Variables of the supervisor's environment that llama-server never gets. */
const LLAMA_ENV_REMOVED = ['LLAMA_API_KEY', 'LLAMA_API_KEY_FILE', 'HF_TOKEN', 'HF_TOKEN_FILE', 'REDIS_URL', 'REDIS_PASSWORD', 'REDIS_PASSWORD_FILE'] as const;

/**
 * The environment of llama-server: this process's, with `LLAMA_API_KEY` set to `apiKey` or removed
 * when there is none (an empty inherited value must not reach llama-server). llama-server reads its
 * `--api-key` from this variable, and in router mode every model instance inherits the router's
 * environment, so the key never appears in an argument list (the process table, the router's log
 * of its instances' arguments, `/models`, the dashboard). The supervisor's own secrets (the
 * Hugging Face token, Redis's password and URL) are removed: llama-server needs none of them, and
 * llama.cpp would use `HF_TOKEN` for downloads of its own.
 */
export function llamaEnv(apiKey: string | null, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  for (const name of LLAMA_ENV_REMOVED) {
    delete env[name];
  }
  if (apiKey !== null) {
    env.LLAMA_API_KEY = apiKey;
  }
  return env;
}

/**
 * The watchdog llama-server is started through (POSIX sh, present in every image we run on): it
 * forks a waiter that blocks reading its stdin, a pipe whose only writer is this Node process,
 * then `exec`s llama-server (same pid, same process group, stdin from /dev/null). When the pipe
 * closes, which the kernel does when this process dies for any reason (SIGKILL, OOM kill, a crash),
 * the waiter SIGKILLs the whole process group: llama-server and every model instance it spawned.
 * The waiter ignores SIGTERM/SIGINT/SIGHUP, so a graceful stop of the group does not disarm it.
 * Why not `prctl(PR_SET_PDEATHSIG)` (`setpriv --pdeathsig`): it reaches only the router, not the
 * model instances it spawns (llama.cpp's router does not set it for them), needs util-linux in
 * llama.cpp's image, and fires when the spawning thread (not process) exits.
 */
export const WATCHDOG_SCRIPT = [
  'exec 3<&0',
  "{ trap '' TERM INT HUP; while read -r _ <&3; do :; done; kill -9 0; } </dev/null >/dev/null 2>&1 &",
  'exec 3<&- </dev/null',
  'exec "$@"',
].join('\n');

/** argv for `spawn` that runs `bin args…` under the watchdog. */
export function watchdogArgv(bin: string, args: readonly string[]): { file: string; args: string[] } {
  return { file: '/bin/sh', args: ['-c', WATCHDOG_SCRIPT, 'llama-watchdog', bin, ...args] };
}

/**
 * One llama-server process: spawned in its own process group (so its model instances can be
 * reaped with it) under the watchdog (no orphan when this process dies), output split into
 * lines, stopped with SIGTERM then SIGKILL.
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
    const argv = watchdogArgv(bin, args);
    // stdin: the watchdog's pipe (never written; its end is the signal).
    this.child = spawn(argv.file, argv.args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env, cwd });
    this.child.stdin?.on('error', () => undefined);
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
