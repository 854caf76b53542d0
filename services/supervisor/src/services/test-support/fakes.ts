import { EventEmitter } from 'node:events';
import { createLogger, type Logger } from '@llamaproxy/shared/node';
import type { ProcessExit } from '../../repositories/llama-process.js';
import type { RouterEvent, RouterModel } from '../../repositories/router-client.js';
import type { Clock, ManagedProcess, RouterApi } from '../supervisor-ports.js';

/**
 * Plain fakes of the supervisor parts' collaborators, for unit specs (not used by the service).
 */

/** Lets queued promise callbacks run (a few turns of the event loop). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A logger that prints nothing. */
export function quietLogger(): Logger {
  const logger = createLogger({ service: 'test', level: 'error', format: 'json' });
  logger.silent = true;
  return logger;
}

interface Timer {
  at: number;
  fn: () => void;
  everyMs: number | null;
}

/** A clock that moves only when told to; `after`, `every` and `sleep` fire as it passes them. */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Set<Timer>();

  constructor(start = 1_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): () => void {
    return this.add({ at: this.time + ms, fn, everyMs: null });
  }

  every(ms: number, fn: () => void): () => void {
    return this.add({ at: this.time + ms, fn, everyMs: ms });
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  /** The delays of the timers pending now, from now, soonest first. */
  get pending(): number[] {
    return [...this.timers].map((t) => t.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const next = [...this.timers].filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (next === undefined) {
        break;
      }
      this.time = Math.max(this.time, next.at);
      if (next.everyMs === null) {
        this.timers.delete(next);
      } else {
        next.at += next.everyMs;
      }
      next.fn();
      await settle();
    }
    this.time = end;
  }

  private add(timer: Timer): () => void {
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }
}

/** A llama-server process that runs until it is stopped or told to crash. */
export class FakeProcess extends EventEmitter<{ line: [line: string]; exit: [exit: ProcessExit] }> implements ManagedProcess {
  readonly pid: number;
  running = true;
  stops = 0;

  constructor(pid: number) {
    super();
    this.pid = pid;
  }

  async stop(): Promise<ProcessExit> {
    this.stops++;
    return this.exit({ code: 0, signal: null });
  }

  /** The process dies on its own (kill -9, a fault). */
  crash(exit: ProcessExit = { code: null, signal: 'SIGKILL' }): void {
    this.exit(exit);
  }

  private exit(exit: ProcessExit): ProcessExit {
    if (this.running) {
      this.running = false;
      this.emit('exit', exit);
    }
    return exit;
  }
}

/** One `/models/sse` connection the fake router holds open. */
export interface FakeStream {
  send(event: RouterEvent): void;
  /** The router closes the stream (it restarts, a proxy times out). */
  drop(): void;
}

/** The router API as plain data: what it answers, and what it was asked. */
export class FakeRouter implements RouterApi {
  healthy = true;
  models: RouterModel[] = [];
  readonly listCalls: boolean[] = [];
  readonly loads: string[] = [];
  readonly unloads: string[] = [];
  readonly streams: FakeStream[] = [];
  /** What POST /models/load does; by default it succeeds. */
  onLoad: (modelId: string) => Promise<void> = async () => undefined;
  /** What POST /models/unload does; by default it succeeds. */
  onUnload: (modelId: string) => Promise<void> = async () => undefined;

  async health(): Promise<boolean> {
    return this.healthy;
  }

  async listModels(reload = false): Promise<RouterModel[]> {
    this.listCalls.push(reload);
    return this.models;
  }

  async load(modelId: string): Promise<void> {
    this.loads.push(modelId);
    await this.onLoad(modelId);
  }

  async unload(modelId: string): Promise<void> {
    this.unloads.push(modelId);
    await this.onUnload(modelId);
  }

  /** Requests in flight per model (GET /slots); 0 for any model not listed. */
  readonly busy = new Map<string, number>();

  async inFlight(modelId: string): Promise<number> {
    return this.busy.get(modelId) ?? 0;
  }

  streamEvents(signal: AbortSignal, onEvent: (event: RouterEvent) => void, onOpen: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      this.streams.push({ send: onEvent, drop: () => resolve() });
      onOpen();
    });
  }

  /** The stream opened last. */
  get stream(): FakeStream {
    const stream = this.streams.at(-1);
    if (stream === undefined) {
      throw new Error('no /models/sse stream was opened');
    }
    return stream;
  }
}
