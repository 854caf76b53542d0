/**
 * Central client state: a mirror of what the gateway pushes (snapshot on connect, broadcasts
 * after), per-key subscriptions, and typed request/response over the Transport.
 *
 * - Requests made while disconnected wait in a queue and are sent, in order, on reconnect
 *   (or rejected with TIMEOUT after `queueTimeoutMs`).
 * - After a reconnect the client resumes with `snapshot:get { cursors }`: broadcasts that arrive
 *   meanwhile are held back and replayed when newer than the snapshot.
 */
import type { Cursors, RequestEvent, RequestPayload, ResponseData, Snapshot } from '@llamaproxy/shared';
import { MERGE_BROADCASTS } from './contract.js';
import { broadcastPatch, mergeLogs, snapshotPatch, type StatePatch } from './reducers.js';
import { applyModelPage, beginModelSync, finishModelSync, modelKey, noteModelDelta, type ModelSync } from './model-merge.js';
import type { AppState, ConnectionState } from './state.js';
import { LIMITS, initialState } from './state.js';
import type { AnyBroadcast, Transport, TransportStatus } from './transport.js';
import { RequestError } from './transport.js';

export type Listener<K extends keyof AppState> = (value: AppState[K], previous: AppState[K]) => void;
type AnyListener = (value: unknown, previous: unknown) => void;

export interface StateManagerOptions {
  requestTimeoutMs?: number;
  /** How long a request may wait for the connection before it fails. */
  queueTimeoutMs?: number;
  /** Asks for a snapshot when the server has not pushed one this long after connecting. */
  snapshotFallbackMs?: number;
  now?: () => number;
}

interface QueuedRequest {
  send: () => void;
  timer: ReturnType<typeof setTimeout>;
}

export class StateManager {
  private state: AppState = initialState();
  private readonly listeners = new Map<keyof AppState, Set<AnyListener>>();
  private readonly transport: Transport;
  private readonly options: Required<StateManagerOptions>;
  private queue: QueuedRequest[] = [];
  private cursors: Cursors = { logId: 0, eventSeq: 0 };
  /** Broadcasts held back while a resume is in flight; null when none is. */
  private held: AnyBroadcast[] | null = null;
  private fallbackTimer: ReturnType<typeof setTimeout> | null = null;
  /** The reading of the model list in pages that runs now (a newer snapshot starts another); null when none. */
  private modelSync: ModelSync | null = null;

  constructor(transport: Transport, options: StateManagerOptions = {}) {
    this.transport = transport;
    this.options = {
      requestTimeoutMs: 15_000,
      queueTimeoutMs: 120_000,
      snapshotFallbackMs: 3000,
      now: Date.now,
      ...options,
    };
  }

  start(): void {
    this.transport.onStatus((status, attempt) => this.onStatus(status, attempt));
    this.transport.onBroadcast((envelope) => this.onBroadcast(envelope));
    this.transport.connect();
  }

  get<K extends keyof AppState>(key: K): AppState[K] {
    return this.state[key];
  }

  /** The newest log id and broadcast seq this client has seen. */
  getCursors(): Cursors {
    return { ...this.cursors };
  }

  /** Calls `listener` whenever `key` changes; with `immediate`, also now. Returns the unsubscribe. */
  subscribe<K extends keyof AppState>(key: K, listener: Listener<K>, immediate = false): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
    }
    const entry = listener as AnyListener;
    set.add(entry);
    if (immediate) {
      listener(this.state[key], this.state[key]);
    }
    return () => set.delete(entry);
  }

  /** Local changes (e.g. a preset fetched on demand). Server-owned keys change through broadcasts. */
  set<K extends keyof AppState>(key: K, value: AppState[K]): void {
    this.apply({ [key]: value });
  }

  /** Sends a request now, or when the connection is back. Rejects with a RequestError. */
  request<E extends RequestEvent>(event: E, payload: RequestPayload<E>): Promise<ResponseData[E]> {
    if (this.transport.connected) {
      return this.send(event, payload);
    }
    return new Promise((resolve, reject) => {
      const item: QueuedRequest = {
        send: () => void this.send(event, payload).then(resolve, reject),
        timer: setTimeout(() => {
          this.queue = this.queue.filter((q) => q !== item);
          this.setConnection({ queued: this.queue.length });
          reject(new RequestError({ code: 'TIMEOUT', message: `${event} was not sent: no connection to the gateway` }));
        }, this.options.queueTimeoutMs),
      };
      this.queue.push(item);
      this.setConnection({ queued: this.queue.length });
    });
  }

  private async send<E extends RequestEvent>(event: E, payload: RequestPayload<E>): Promise<ResponseData[E]> {
    const reply = await this.transport.request(event, payload, this.options.requestTimeoutMs);
    if (!reply.success) {
      throw new RequestError(reply.error);
    }
    return reply.data;
  }

  private onStatus(status: TransportStatus, attempt: number): void {
    if (status === 'connected') {
      this.setConnection({ status: 'connected', attempt: 0 });
      if (this.state.ready) {
        void this.resume();
      } else {
        this.scheduleSnapshotFallback();
      }
      this.flushQueue();
      return;
    }
    this.clearSnapshotFallback();
    this.setConnection({ status: status === 'reconnecting' ? 'reconnecting' : 'offline', attempt });
  }

  private flushQueue(): void {
    const queued = this.queue;
    this.queue = [];
    this.setConnection({ queued: 0 });
    for (const item of queued) {
      clearTimeout(item.timer);
      item.send();
    }
  }

  private onBroadcast(envelope: AnyBroadcast): void {
    if (this.held !== null) {
      this.held.push(envelope);
      return;
    }
    this.applyBroadcast(envelope);
  }

  private applyBroadcast(envelope: AnyBroadcast): void {
    if (envelope.event === 'snapshot') {
      this.applySnapshot(envelope.data, false);
      return;
    }
    this.cursors.eventSeq = Math.max(this.cursors.eventSeq, envelope.seq);
    if (this.modelSync !== null) {
      // A page read before this delta must not undo it.
      if (envelope.event === 'models:changed') {
        noteModelDelta(this.modelSync, envelope.data.upserted, envelope.data.removed);
      } else if (envelope.event === 'models:status') {
        const key = modelKey({ nodeId: envelope.data.nodeId, id: envelope.data.model.id });
        if (this.state.models.some((m) => modelKey(m) === key)) {
          noteModelDelta(this.modelSync, [{ nodeId: envelope.data.nodeId, id: envelope.data.model.id }], []);
        }
      } else if (envelope.event === 'models:states') {
        // As for one state: only the rows the list holds (a page must not add back a row without its view).
        const { nodeId } = envelope.data;
        const held = new Set(this.state.models.filter((m) => m.nodeId === nodeId).map((m) => m.id));
        noteModelDelta(this.modelSync, envelope.data.models.filter((m) => held.has(m.id)).map((m) => ({ nodeId, id: m.id })), []);
      }
    }
    this.apply(broadcastPatch(this.state, envelope, this.options.now()));
  }

  private applySnapshot(snapshot: Snapshot, resume: boolean): void {
    this.clearSnapshotFallback();
    this.cursors = {
      logId: Math.max(snapshot.cursors.logId, resume && snapshot.logsTruncated ? 0 : this.cursors.logId),
      eventSeq: Math.max(snapshot.cursors.eventSeq, this.cursors.eventSeq),
    };
    this.apply(snapshotPatch(this.state, snapshot, resume));
    this.modelSync = null;
    if (snapshot.modelsNext !== null) {
      void this.readModelPages(snapshot);
    }
  }

  /**
   * The rest of the model list after a snapshot's first page, page by page (each page shows at
   * once); then models no page held and no delta added are dropped. A newer snapshot, or a failed
   * page, ends it (the next snapshot reads the list again).
   */
  private async readModelPages(snapshot: Snapshot): Promise<void> {
    const sync = beginModelSync();
    this.modelSync = sync;
    this.apply({ models: applyModelPage(this.state.models, snapshot.models, sync) });
    let cursor = snapshot.modelsNext;
    while (cursor !== null) {
      let page: ResponseData['models:list'];
      try {
        page = await this.send('models:list', { cursor, limit: LIMITS.modelPage });
      } catch {
        if (this.modelSync === sync) {
          this.modelSync = null;
        }
        return;
      }
      if (this.modelSync !== sync) {
        return;
      }
      this.apply({ models: applyModelPage(this.state.models, page.models, sync) });
      cursor = page.nextCursor;
    }
    this.apply({ models: finishModelSync(this.state.models, sync) });
    this.modelSync = null;
  }

  /** After a reconnect: fetch what changed since our cursors, then replay newer held broadcasts. */
  private async resume(): Promise<void> {
    this.held = [];
    const cursors = this.getCursors();
    let snapshot: Snapshot | null = null;
    try {
      snapshot = await this.send('snapshot:get', { cursors });
    } catch {
      // Fall back to whatever the server pushed on connect (held below).
    }
    const held = this.held;
    this.held = null;
    if (snapshot !== null) {
      this.applySnapshot(snapshot, true);
    }
    const seenSeq = snapshot?.cursors.eventSeq ?? -1;
    for (const envelope of held) {
      const merges = (MERGE_BROADCASTS as readonly string[]).includes(envelope.event);
      if (snapshot === null || (envelope.event !== 'snapshot' && (merges || envelope.seq > seenSeq))) {
        this.applyBroadcast(envelope);
      }
    }
    if (snapshot?.logsTruncated === true) {
      await this.reloadNewestLogs();
    }
  }

  /** After too long a gap the resume holds the oldest missed lines; show the newest instead. */
  private async reloadNewestLogs(): Promise<void> {
    try {
      const { entries } = await this.send('logs:query', { limit: LIMITS.logs });
      const newest = entries.reverse();
      const lastId = newest.at(-1)?.id ?? 0;
      this.apply({ logs: mergeLogs(newest, this.state.logs.filter((e) => e.id > lastId)) });
    } catch {
      // Keep what the resume brought.
    }
  }

  private scheduleSnapshotFallback(): void {
    this.clearSnapshotFallback();
    this.fallbackTimer = setTimeout(() => {
      this.fallbackTimer = null;
      if (!this.state.ready) {
        this.send('snapshot:get', {}).then(
          (snapshot) => this.applySnapshot(snapshot, false),
          () => {},
        );
      }
    }, this.options.snapshotFallbackMs);
  }

  private clearSnapshotFallback(): void {
    if (this.fallbackTimer !== null) {
      clearTimeout(this.fallbackTimer);
      this.fallbackTimer = null;
    }
  }

  private setConnection(change: Partial<ConnectionState>): void {
    this.apply({ connection: { ...this.state.connection, ...change } });
  }

  private apply(patch: StatePatch): void {
    const changed: [keyof AppState, unknown][] = [];
    for (const key of Object.keys(patch) as (keyof AppState)[]) {
      const previous = this.state[key];
      const value = patch[key];
      if (value !== undefined && value !== previous) {
        (this.state as unknown as Record<string, unknown>)[key] = value;
        changed.push([key, previous]);
      }
    }
    for (const entry of this.state.logs.slice(-1)) {
      this.cursors.logId = Math.max(this.cursors.logId, entry.id);
    }
    for (const [key, previous] of changed) {
      for (const listener of this.listeners.get(key) ?? []) {
        try {
          listener(this.state[key], previous);
        } catch (error) {
          // One broken view must not stop the others from updating.
          console.error(`listener of "${key}" failed`, error);
        }
      }
    }
  }
}
