import { EventEmitter } from 'node:events';
import { AppError, ErrorCode, redactSecrets, type ModelState } from '@llamaproxy/shared';
import type { RouterEvent, RouterModel } from '../repositories/router-client.js';
import { RouterStatusDataSchema } from '../repositories/router-client.js';

interface Waiter {
  modelId: string;
  predicate: (state: ModelState) => boolean;
  resolve: (state: ModelState) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface ModelStatesEvents {
  change: [state: ModelState];
  /** The router no longer lists the model (its file is gone). */
  remove: [modelId: string];
}

/** Explains a failed instance: its exit code and the log lines about it. */
export type FailureExplainer = (modelId: string, exitCode: number | null) => { message: string; logTail: string[] };

/**
 * The truth about every model, from `/models/sse` events, reconciled with `GET /models`.
 * Emits `change` for every real change and lets callers wait for a state.
 *
 * What an `unloaded` with a non-zero exit code means depends on who stopped the instance, which
 * the router does not say (builds differ: a deliberate unload may end with exit code 0 or 1):
 * - a stop that was asked for (our unload, or the router's own "stopping model instance", e.g. an
 *   LRU eviction) ends `unloaded`, whatever the exit code, until the model next starts loading;
 * - a `failed` entry of a model that has not started since llama-server came up is `unloaded`
 *   with the router's report as a note (nothing of this run failed);
 * - any other exit (a crash while loaded, a failed load) is `error`, explained by that model's
 *   own log lines.
 */
export class ModelStates extends EventEmitter<ModelStatesEvents> {
  private readonly states = new Map<string, ModelState>();
  private readonly waiters = new Set<Waiter>();
  /** Models whose catalogue entry is not a usable GGUF, with the reason. */
  private readonly invalid = new Map<string, string>();
  private readonly explain: FailureExplainer;
  /** Models whose instance was asked to stop; cleared when they start loading again. */
  private readonly stopAsked = new Set<string>();
  /** Models that started (loading or later) since llama-server came up. */
  private readonly started = new Set<string>();

  constructor(explain: FailureExplainer) {
    super();
    this.explain = explain;
  }

  get(modelId: string): ModelState | undefined {
    return this.states.get(modelId);
  }

  all(): ModelState[] {
    return [...this.states.values()];
  }

  /** Applies one `/models/sse` event. */
  applyEvent(event: RouterEvent): void {
    if (event.event === 'model_remove') {
      if (this.states.delete(event.model)) {
        this.emit('remove', event.model);
      }
      return;
    }
    if (event.event !== 'model_status' && event.event !== 'status_change') {
      return;
    }
    const data = RouterStatusDataSchema.safeParse(event.data);
    if (!data.success) {
      return;
    }
    const { status, exit_code: exitCode, progress } = data.data;
    const previous = this.states.get(event.model);
    this.set(event.model, this.fromRouter(event.model, status, exitCode ?? null, progress ?? null, previous?.args ?? [], previous));
  }

  /** Reconciles with `GET /models`: adds, updates and removes to match the router. */
  reconcile(models: RouterModel[]): void {
    const seen = new Set<string>();
    for (const model of models) {
      seen.add(model.id);
      const previous = this.states.get(model.id);
      const routerStatus = model.status.value;
      // Keep the finer-grained progress we got from SSE while the router still says loading.
      if (previous?.status === 'loading' && routerStatus === 'loading') {
        continue;
      }
      const exitCode = model.status.failed ? (model.status.exit_code ?? 1) : null;
      // The instance's arguments are shown in the dashboard: secret flags' values never leave here.
      const args = model.status.args === undefined ? undefined : (redactSecrets(model.status.args) as string[]);
      this.set(model.id, this.fromRouter(model.id, routerStatus, exitCode, null, args ?? previous?.args ?? [], previous));
    }
    for (const id of [...this.states.keys()]) {
      if (!seen.has(id) && !this.invalid.has(id)) {
        this.states.delete(id);
        this.emit('remove', id);
      }
    }
  }

  /** Marks catalogue entries that are not usable GGUF files as `error` with their reason. */
  setInvalid(invalid: Map<string, string>): void {
    for (const id of this.invalid.keys()) {
      const state = this.states.get(id);
      if (!invalid.has(id) && state?.status === 'error') {
        // The file was fixed or replaced: it is a loadable model again.
        this.set(id, { ...state, status: 'unloaded', error: null, updatedAt: Date.now() });
      }
    }
    this.invalid.clear();
    for (const [id, reason] of invalid) {
      this.invalid.set(id, reason);
      const previous = this.states.get(id);
      this.set(id, {
        id,
        status: 'error',
        progress: null,
        stage: null,
        args: previous?.args ?? [],
        error: { message: reason, exitCode: null, logTail: [] },
        note: null,
        updatedAt: Date.now(),
      });
    }
  }

  /**
   * The instance of `modelId` is being stopped on purpose (our unload, or the router said
   * "stopping model instance"): its exit is not a failure. An `error` that its exit already caused
   * (the log line may come after the event) is taken back.
   */
  expectStop(modelId: string): void {
    this.stopAsked.add(modelId);
    const state = this.states.get(modelId);
    if (state?.status === 'error' && state.error?.exitCode !== null && state.error !== null && !this.invalid.has(modelId)) {
      this.set(modelId, { ...state, status: 'unloaded', error: null, updatedAt: Date.now() });
    }
  }

  /** llama-server (re)started: no model has run in it yet. */
  routerStarted(): void {
    this.started.clear();
    this.stopAsked.clear();
  }

  invalidReason(modelId: string): string | undefined {
    return this.invalid.get(modelId);
  }

  /** llama-server is gone: every model is unloaded, every waiter fails with `err`. */
  resetAll(err: Error): void {
    for (const state of this.states.values()) {
      if (state.status !== 'unloaded' && !this.invalid.has(state.id)) {
        this.set(state.id, { ...state, status: 'unloaded', progress: null, stage: null, updatedAt: Date.now() });
      }
    }
    for (const waiter of [...this.waiters]) {
      this.finish(waiter);
      waiter.reject(err);
    }
  }

  /** Resolves when the model's state satisfies `predicate` (checked at once, then on changes). */
  waitFor(modelId: string, predicate: (state: ModelState) => boolean, timeoutMs: number): Promise<ModelState> {
    const current = this.states.get(modelId);
    if (current && predicate(current)) {
      return Promise.resolve(current);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        modelId,
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.finish(waiter);
          reject(new AppError(ErrorCode.TIMEOUT, `model ${modelId} did not change state within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private finish(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }

  private set(modelId: string, next: ModelState): void {
    const previous = this.states.get(modelId);
    if (previous && sameState(previous, next)) {
      return;
    }
    this.states.set(modelId, next);
    this.emit('change', next);
    for (const waiter of [...this.waiters]) {
      if (waiter.modelId === modelId && waiter.predicate(next)) {
        this.finish(waiter);
        waiter.resolve(next);
      }
    }
  }

  private fromRouter(
    id: string,
    routerStatus: string,
    exitCode: number | null,
    progress: { stages?: string[] | undefined; current?: string | undefined; value?: number | undefined } | null,
    args: string[],
    previous: ModelState | undefined,
  ): ModelState {
    const base = { id, args, updatedAt: Date.now(), progress: null, stage: null, error: null, note: null };
    const invalid = this.invalid.get(id);
    switch (routerStatus) {
      case 'loaded':
      case 'sleeping':
        this.started.add(id);
        return { ...base, status: routerStatus };
      case 'loading':
      case 'downloading':
        // A new run: whatever stop was asked for is over.
        if (previous?.status !== 'loading') {
          this.stopAsked.delete(id);
        }
        this.started.add(id);
        return routerStatus === 'loading' ? { ...base, status: 'loading', ...loadProgress(progress) } : { ...base, status: 'loading', progress: 0, stage: 'download' };
      default: {
        if (exitCode !== null && exitCode !== 0 && this.stopAsked.has(id)) {
          // Unloaded on purpose: some builds end a requested stop with exit code 1.
          return { ...base, status: 'unloaded' };
        }
        if (exitCode !== null && exitCode !== 0 && !this.started.has(id)) {
          return { ...base, status: 'unloaded', note: `llama-server reports exit code ${exitCode} for this model, from before it last started; it has not run since` };
        }
        // unloaded: an instance that exited with a non-zero code failed to load or crashed.
        if (exitCode !== null && exitCode !== 0) {
          const explained = this.explain(id, exitCode);
          return { ...base, status: 'error', error: { exitCode, ...explained } };
        }
        if (invalid !== undefined) {
          return { ...base, status: 'error', error: { message: invalid, exitCode: null, logTail: [] } };
        }
        // A failed load stays an error until the next load attempt.
        if (previous?.status === 'error' && exitCode === null) {
          return previous;
        }
        return { ...base, status: 'unloaded' };
      }
    }
  }
}

/** Overall 0..1 progress across the load stages llama-server reports. */
export function loadProgress(progress: { stages?: string[] | undefined; current?: string | undefined; value?: number | undefined } | null): {
  progress: number;
  stage: string | null;
} {
  if (!progress) {
    return { progress: 0, stage: null };
  }
  const value = Math.min(1, Math.max(0, progress.value ?? 0));
  const stages = progress.stages ?? [];
  const index = progress.current === undefined ? -1 : stages.indexOf(progress.current);
  const overall = index < 0 || stages.length === 0 ? value : (index + value) / stages.length;
  return { progress: Math.round(overall * 1000) / 1000, stage: progress.current ?? null };
}

function sameState(a: ModelState, b: ModelState): boolean {
  return (
    a.status === b.status &&
    a.progress === b.progress &&
    a.stage === b.stage &&
    a.error?.message === b.error?.message &&
    a.error?.exitCode === b.error?.exitCode &&
    (a.note ?? null) === (b.note ?? null) &&
    a.args.join('\0') === b.args.join('\0')
  );
}
