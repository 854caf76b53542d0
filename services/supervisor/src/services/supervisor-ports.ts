import type { ProcessExit } from '../repositories/llama-process.js';
import type { RouterClient } from '../repositories/router-client.js';

/**
 * The narrow views of the supervisor's I/O collaborators that its parts depend on, so that each
 * part can be driven in a unit spec by a plain object instead of a live llama-server.
 */

/** What the parts ask of llama-server's router API (implemented by `RouterClient`). */
export type RouterApi = Pick<RouterClient, 'health' | 'listModels' | 'load' | 'unload' | 'streamEvents' | 'inFlight'>;

/** One running llama-server process (implemented by `LlamaProcess`). */
export interface ManagedProcess {
  readonly pid: number | null;
  readonly running: boolean;
  on(event: 'line', listener: (line: string) => void): unknown;
  once(event: 'exit', listener: (exit: ProcessExit) => void): unknown;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how the process ended. */
  stop(graceMs: number): Promise<ProcessExit>;
}

/** Time, for the parts whose behaviour depends on it (deadlines, backoff, polling). */
export interface Clock {
  now(): number;
  /** Runs `fn` once after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Runs `fn` every `ms` without keeping the process alive; the returned function cancels it. */
  every(ms: number, fn: () => void): () => void;
  sleep(ms: number): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
