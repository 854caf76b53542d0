import { EventEmitter } from 'node:events';
import {
  AppError,
  DEFAULT_PLACEMENT_SETTINGS,
  effectiveTtlSeconds,
  ErrorCode,
  footprintBytes,
  footprintSettingsKey,
  formatBytes,
  MEMORY_REPORT_MIN_INTERVAL_MS,
  modelPlacementSettings,
  planPlacement,
  type DeviceBytes,
  type FootprintSettings,
  type LlamaStatus,
  type MemoryReport,
  type ModelFootprint,
  type ModelState,
  type PlacementMode,
  type PlacementSettings,
  type ResidentModel,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { InstanceMemory } from '../../repositories/instance-memory.js';
import { RouterHttpError } from '../../repositories/router-client.js';
import type { PlacementRedis } from '../../repositories/placement-redis.js';
import type { ModelStates } from '../model-states.js';
import type { Clock, RouterApi } from '../supervisor-ports.js';
import { deviceBudgets, gpuDeviceId, type BudgetInputs, type GpuInfo } from './device-budget.js';
import { estimateFootprint, type ModelShape } from './footprint-estimator.js';

/** Measured footprints as kept on disk: key `<modelId>\n<settingsKey>`. */
export interface StoredFootprints {
  version: 1;
  measured: Record<string, { bytes: DeviceBytes; measuredAt: number }>;
}

export interface PlacementOptions {
  nodeId: string;
  mode: PlacementMode;
  /** `RAM_BUDGET` in bytes, or null for total − `ramReserveBytes`. */
  ramBudgetBytes: number | null;
  ramReserveBytes: number;
  /** `GPU_MEMORY_RESERVE` in bytes. */
  gpuReserveBytes: number;
  /** How long a load waits for a model it must evict to finish its requests (ms). */
  inFlightWaitMs?: number;
  /** How often idle models are looked for and recency is refreshed (ms). */
  idleCheckMs?: number;
}

export interface PlacementDeps {
  models: Pick<ModelStates, 'get' | 'all' | 'on'>;
  /** The router, when running; its status carries the router's pid. */
  router: { runningClient(): RouterApi; readonly status: LlamaStatus };
  memory: Pick<InstanceMemory, 'ramTotalBytes' | 'gpus' | 'gpuProcesses' | 'instancePid' | 'rssBytes'>;
  redis: Pick<PlacementRedis, 'watchSettings' | 'lastUsed'>;
  store: { read(): Promise<unknown>; write(value: StoredFootprints): Promise<void> };
  /** The model's shape from its GGUF header(s), or null when it cannot be read. */
  shape: (modelId: string) => Promise<ModelShape | null>;
  /** The settings the model's instance starts with (configuration, extra arguments, preset). */
  footprintSettings: (modelId: string) => Promise<FootprintSettings>;
  /** Unloads a model and waits until it is unloaded. */
  unload: (modelId: string) => Promise<unknown>;
  /** Loads a model through the normal path (with placement). */
  load: (modelId: string) => Promise<unknown>;
  clock: Clock;
  logger: Logger;
}

/** Handed to a load once room was made: `settled()` when it ended either way. */
export interface LoadTicket {
  settled(): void;
}

interface PlacementEvents {
  report: [report: MemoryReport];
}

const RESIDENT = new Set(['loading', 'loaded', 'sleeping']);

/**
 * Up to this many catalogue models are estimated in the background, so the web can preview a
 * load of a model never loaded; a larger catalogue gets its estimates at each model's first load
 * (every footprint rides in every memory report).
 */
export const BACKGROUND_ESTIMATE_LIMIT = 32;

/**
 * Memory-aware placement of one node's models (issue #14; the flow is described in
 * shared/src/placement.ts). Before a load it makes room by unloading the least recently used
 * models that may go, or refuses with INSUFFICIENT_MEMORY; after a load it measures the instance;
 * it unloads models idle beyond their TTL, loads the start-up models, and reports the node's
 * memory. In `count` mode it only measures and reports: llama.cpp's `--models-max` decides.
 */
export class PlacementService extends EventEmitter<PlacementEvents> {
  private readonly options: Required<PlacementOptions>;
  private readonly deps: PlacementDeps;
  private readonly log: Logger;
  private settings: PlacementSettings = DEFAULT_PLACEMENT_SETTINGS;
  private budgetInputs: BudgetInputs;
  private gpus: GpuInfo[] = [];
  private stored: StoredFootprints = { version: 1, measured: {} };
  /** Each model's footprint for the settings it would start with now. */
  private readonly footprints = new Map<string, ModelFootprint>();
  private readonly shapes = new Map<string, ModelShape | null>();
  private readonly loadedAt = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private lastUsed = new Map<string, number>();
  /** Loads that placement made room for and that have not settled: their bytes count as used. */
  private readonly reserved = new Map<string, DeviceBytes>();
  private lock: Promise<unknown> = Promise.resolve();
  private stopTimer: (() => void) | null = null;
  private reportTimer: (() => void) | null = null;
  private lastReportAt = 0;
  private closed = false;
  /** Set once the devices are known (estimates depend on them). */
  private started = false;
  private checking = false;
  /** Set once Redis held the gateway's settings document (until then `settings` are the defaults). */
  private settingsStored = false;
  /** llama-server became ready before the settings were known: load the start-up models then. */
  private startupDeferred = false;

  constructor(options: PlacementOptions, deps: PlacementDeps) {
    super();
    this.options = { inFlightWaitMs: 120_000, idleCheckMs: 1000, ...options };
    this.deps = deps;
    this.log = deps.logger.child({ module: 'placement' });
    this.budgetInputs = { ramTotalBytes: 0, ramBudgetBytes: options.ramBudgetBytes, ramReserveBytes: options.ramReserveBytes, gpus: [], gpuReserveBytes: options.gpuReserveBytes };
  }

  get mode(): PlacementMode {
    return this.options.mode;
  }

  /** Reads the devices, the stored measurements and the settings; starts the idle check. */
  async start(): Promise<void> {
    const { memory, store, redis, models, clock } = this.deps;
    this.gpus = await memory.gpus();
    this.budgetInputs = { ...this.budgetInputs, ramTotalBytes: await memory.ramTotalBytes(), gpus: this.gpus };
    const saved = (await store.read()) as Partial<StoredFootprints> | undefined;
    if (saved?.version === 1 && typeof saved.measured === 'object' && saved.measured !== null) {
      this.stored = { version: 1, measured: saved.measured };
    }
    const devices = deviceBudgets(this.budgetInputs, []);
    this.log.info('placement', { mode: this.mode, devices: devices.map((d) => `${d.id} ${formatBytes(d.budgetBytes)} of ${formatBytes(d.totalBytes)}`).join(', ') });
    for (const key of Object.keys(this.stored.measured)) {
      const modelId = key.split('\n')[0] ?? '';
      void this.footprintOf(modelId).catch(() => undefined);
    }
    models.on('change', (state) => this.onModel(state));
    await redis.watchSettings((settings, stored = true) => {
      this.settings = settings;
      this.scheduleReport();
      if (stored && !this.settingsStored) {
        this.settingsStored = true;
        if (this.startupDeferred) {
          this.startupDeferred = false;
          void this.loadStartupModels();
        }
      }
    });
    this.started = true;
    this.stopTimer = clock.every(this.options.idleCheckMs, () => {
      void this.checkIdle().catch((err: unknown) => this.log.warn('idle check failed', { error: (err as Error).message }));
    });
  }

  close(): void {
    this.closed = true;
    this.stopTimer?.();
    this.reportTimer?.();
  }

  /**
   * Makes room for `modelId` before it is loaded: unloads the least recently used models that may
   * go (waiting for requests in flight to end) or throws INSUFFICIENT_MEMORY. In `count` mode it
   * does nothing. Loads pass one at a time; the next one counts this one's footprint as used.
   */
  async beforeLoad(modelId: string): Promise<LoadTicket> {
    if (this.mode === 'count') {
      void this.footprintOf(modelId).catch(() => undefined);
      return { settled: () => undefined };
    }
    return this.exclusive(async () => {
      const footprint = await this.footprintOf(modelId);
      const bytes = footprintBytes(footprint);
      await this.refresh();
      const plan = planPlacement(this.report(), modelId, bytes);
      if (!plan.fits) {
        this.log.warn('refusing a load: not enough memory', { modelId, message: plan.message });
        throw new AppError(ErrorCode.INSUFFICIENT_MEMORY, plan.message ?? `${modelId} does not fit`);
      }
      for (const victim of plan.evict) {
        if (plan.waitFor.includes(victim)) {
          this.log.info(`waiting for requests to end before evicting it for ${modelId}`, { modelId: victim, for: modelId });
          await this.waitIdle(victim, modelId);
        }
        this.log.info(`evicting the least recently used model to make room for ${modelId}`, {
          modelId: victim,
          for: modelId,
          reason: 'lru',
          lastUsedAt: this.lastUsedOf(victim),
          needBytes: plan.needBytes,
        });
        await this.deps.unload(victim);
      }
      this.reserved.set(modelId, bytes);
      this.scheduleReport();
      return {
        settled: () => {
          this.reserved.delete(modelId);
          this.scheduleReport();
        },
      };
    });
  }

  /**
   * Estimates the footprints of the catalogue's models not known yet, one after another in the
   * background, when there are at most BACKGROUND_ESTIMATE_LIMIT of them.
   */
  estimateInBackground(modelIds: readonly string[]): void {
    if (!this.started || modelIds.length > BACKGROUND_ESTIMATE_LIMIT) {
      return;
    }
    const todo = modelIds.filter((id) => !this.footprints.has(id));
    void (async () => {
      for (const modelId of todo) {
        if (this.closed) {
          return;
        }
        await this.footprintOf(modelId).catch((err: unknown) => this.log.debug('cannot estimate a model', { modelId, error: (err as Error).message }));
      }
    })();
  }

  /**
   * Loads the models marked "load on start-up", one after another (after llama-server started).
   * Before the gateway's settings reached Redis (a fresh Redis: the supervisor often starts first)
   * it waits for them, so the marks are not read from the defaults.
   */
  async loadStartupModels(): Promise<void> {
    if (!this.settingsStored) {
      this.startupDeferred = true;
      this.log.info('start-up models wait for the placement settings from the gateway');
      return;
    }
    const ids = Object.entries(this.settings.models)
      .filter(([, s]) => s.loadOnStartup)
      .map(([id]) => id);
    for (const modelId of ids) {
      this.log.info('loading a start-up model', { modelId });
      await this.deps.load(modelId).catch((err: unknown) => this.log.warn('start-up model did not load', { modelId, error: (err as Error).message }));
    }
  }

  /** The node's memory report now. */
  report(): MemoryReport {
    const now = this.deps.clock.now();
    const residents: ResidentModel[] = [];
    const seen = new Set<string>();
    for (const state of this.deps.models.all()) {
      if (!RESIDENT.has(state.status)) {
        continue;
      }
      seen.add(state.id);
      residents.push(this.resident(state.id, state.status as ResidentModel['status'], now));
    }
    for (const modelId of this.reserved.keys()) {
      if (!seen.has(modelId)) {
        residents.push(this.resident(modelId, 'loading', now));
      }
    }
    residents.sort((a, b) => (b.lastUsedAt ?? 0) - (a.lastUsedAt ?? 0));
    return {
      nodeId: this.options.nodeId,
      mode: this.mode,
      sentAt: now,
      devices: deviceBudgets(this.budgetInputs, residents.map((r) => r.bytes)),
      models: residents,
      footprints: [...this.footprints.values()],
    };
  }

  /** The footprint `modelId` would have with the settings it would start with now (measured, else estimated). */
  async footprintOf(modelId: string): Promise<ModelFootprint> {
    const settings = await this.deps.footprintSettings(modelId);
    const settingsKey = footprintSettingsKey(settings);
    const known = this.footprints.get(modelId);
    const measured = this.stored.measured[`${modelId}\n${settingsKey}`] ?? null;
    // An empty estimate (the header could not be read yet, e.g. before the first catalogue scan)
    // is made again, not kept.
    let estimated = known?.settingsKey === settingsKey && Object.keys(known.estimated).length > 0 ? known.estimated : null;
    if (estimated === null) {
      // A shape that could not be read is asked for again next time (the file may appear or heal).
      const shape = this.shapes.get(modelId) ?? (await this.deps.shape(modelId).catch(() => null));
      if (shape !== null) {
        this.shapes.set(modelId, shape);
      }
      estimated = shape === null ? {} : estimateFootprint(shape, settings, this.gpus.map(gpuDeviceId));
    }
    const footprint: ModelFootprint = { modelId, settingsKey, settings, estimated, measured: measured?.bytes ?? null, measuredAt: measured?.measuredAt ?? null };
    this.footprints.set(modelId, footprint);
    this.scheduleReport();
    return footprint;
  }

  /** Measures a loaded model's instance: its resident memory, and its memory on each GPU. */
  async measure(modelId: string): Promise<ModelFootprint | null> {
    const { memory } = this.deps;
    const routerPid = this.deps.router.status.pid;
    if (routerPid === null) {
      return null;
    }
    const listed = (await this.deps.router.runningClient().listModels()).find((m) => m.id === modelId);
    const args = listed?.status.args ?? this.deps.models.get(modelId)?.args ?? [];
    const port = Number(args[args.indexOf('--port') + 1]);
    const pid = args.includes('--port') && Number.isInteger(port) ? await memory.instancePid(routerPid, port) : null;
    const rss = pid === null ? null : await memory.rssBytes(pid);
    if (pid === null || rss === null) {
      this.log.debug('cannot find the instance of a loaded model', { modelId });
      return null;
    }
    const bytes: DeviceBytes = { cpu: rss };
    if (this.gpus.length > 0) {
      const byUuid = new Map(this.gpus.map((g) => [g.uuid, gpuDeviceId(g)]));
      for (const app of await memory.gpuProcesses()) {
        const device = byUuid.get(app.gpuUuid);
        if (app.pid === pid && device !== undefined) {
          bytes[device] = (bytes[device] ?? 0) + app.usedBytes;
        }
      }
    }
    const footprint = await this.footprintOf(modelId);
    // nvidia-smi in a container may not list the instance (another PID namespace): the GPU share
    // it cannot see stays estimated, so that the model never counts as free on that GPU.
    const unseen = Object.keys(footprint.estimated).filter((id) => !(id in bytes));
    for (const id of unseen) {
      bytes[id] = footprint.estimated[id] ?? 0;
    }
    if (unseen.length > 0 && this.gpus.length > 0) {
      this.log.warn('nvidia-smi does not list the model instance; its GPU memory stays estimated', { modelId, devices: unseen.join(', ') });
    }
    const measuredAt = this.deps.clock.now();
    this.stored.measured[`${modelId}\n${footprint.settingsKey}`] = { bytes, measuredAt };
    await this.deps.store.write(this.stored);
    const updated: ModelFootprint = { ...footprint, measured: bytes, measuredAt };
    this.footprints.set(modelId, updated);
    this.log.info('measured a model footprint', {
      modelId,
      settings: footprint.settingsKey,
      measured: describeBytes(bytes),
      estimated: describeBytes(footprint.estimated),
    });
    this.scheduleReport();
    return updated;
  }

  /** Unloads loaded models idle beyond their TTL (never one serving a request); refreshes recency. */
  async checkIdle(): Promise<void> {
    // One check at a time: a load may hold the lock while it waits for requests to end.
    if (this.closed || this.checking || this.deps.router.status.state !== 'running') {
      return;
    }
    this.checking = true;
    try {
      await this.unloadIdle();
    } finally {
      this.checking = false;
    }
  }

  private async unloadIdle(): Promise<void> {
    await this.refreshLastUsed();
    if (this.mode === 'count') {
      return;
    }
    const now = this.deps.clock.now();
    for (const state of this.deps.models.all()) {
      const ttl = effectiveTtlSeconds(this.settings, state.id);
      if (state.status !== 'loaded' || ttl === 0 || this.reserved.has(state.id)) {
        continue;
      }
      const last = this.lastUsedOf(state.id);
      if (last === null || now - last < ttl * 1000) {
        continue;
      }
      await this.exclusive(async () => {
        const current = this.deps.models.get(state.id);
        const lastNow = this.lastUsedOf(state.id);
        if (current?.status !== 'loaded' || lastNow === null || this.deps.clock.now() - lastNow < ttl * 1000) {
          return;
        }
        const busy = await busyCount(this.deps.router.runningClient(), state.id);
        this.inFlight.set(state.id, busy);
        if (busy > 0) {
          return;
        }
        const idleSeconds = Math.round((this.deps.clock.now() - lastNow) / 1000);
        this.log.info(`unloading an idle model: no request for ${idleSeconds} s (TTL ${ttl} s)`, { modelId: state.id, reason: 'idle', ttlSeconds: ttl, idleSeconds });
        await this.deps.unload(state.id);
      });
    }
  }

  private resident(modelId: string, status: ResidentModel['status'], now: number): ResidentModel {
    const footprint = this.footprints.get(modelId);
    const bytes = this.reserved.get(modelId) ?? (footprint === undefined ? {} : footprintBytes(footprint));
    const own = modelPlacementSettings(this.settings, modelId);
    const ttlSeconds = effectiveTtlSeconds(this.settings, modelId);
    const lastUsedAt = this.lastUsedOf(modelId);
    const idleUnloadAt = this.mode === 'memory' && ttlSeconds > 0 && status === 'loaded' ? Math.max(now, (lastUsedAt ?? now) + ttlSeconds * 1000) : null;
    return { modelId, status, bytes, pinned: own.pinned, lastUsedAt, inFlight: this.inFlight.get(modelId) ?? 0, ttlSeconds, idleUnloadAt };
  }

  /** The later of the last real request (the gateway's) and the model's load; null when neither is known. */
  private lastUsedOf(modelId: string): number | null {
    const used = this.lastUsed.get(modelId);
    const loaded = this.loadedAt.get(modelId);
    if (used === undefined && loaded === undefined) {
      return null;
    }
    return Math.max(used ?? 0, loaded ?? 0);
  }

  /** Recency from the gateway, and llama-server's own count of requests in flight per resident model. */
  private async refresh(): Promise<void> {
    await this.refreshLastUsed();
    const client = this.deps.router.runningClient();
    await Promise.all(
      this.deps.models
        .all()
        .filter((s) => s.status === 'loaded' || s.status === 'sleeping')
        .map(async (s) => this.inFlight.set(s.id, await busyCount(client, s.id))),
    );
  }

  /** Rereads the gateway's recency; a change is reported. */
  private async refreshLastUsed(): Promise<void> {
    try {
      const next = await this.deps.redis.lastUsed();
      const changed = next.size !== this.lastUsed.size || [...next].some(([id, ms]) => this.lastUsed.get(id) !== ms);
      this.lastUsed = next;
      if (changed) {
        this.scheduleReport();
      }
    } catch (err) {
      this.log.debug('cannot read the last-used times', { error: (err as Error).message });
    }
  }

  /** Waits until `victim` serves no request, or throws INSUFFICIENT_MEMORY after `inFlightWaitMs`. */
  private async waitIdle(victim: string, forModel: string): Promise<void> {
    const { clock } = this.deps;
    const deadline = clock.now() + this.options.inFlightWaitMs;
    const client = this.deps.router.runningClient();
    for (;;) {
      const busy = await busyCount(client, victim);
      this.inFlight.set(victim, busy);
      if (busy === 0) {
        return;
      }
      if (clock.now() > deadline) {
        throw new AppError(
          ErrorCode.INSUFFICIENT_MEMORY,
          `${forModel} needs the memory of ${victim}, which is still serving ${busy} request(s) after ${Math.round(this.options.inFlightWaitMs / 1000)} s`,
        );
      }
      this.scheduleReport();
      await clock.sleep(200);
    }
  }

  private onModel(state: ModelState): void {
    if (state.status === 'loaded') {
      if (!this.loadedAt.has(state.id)) {
        this.loadedAt.set(state.id, this.deps.clock.now());
        void this.measure(state.id).catch((err: unknown) => this.log.warn('cannot measure a model', { modelId: state.id, error: (err as Error).message }));
      }
    } else if (state.status === 'loading') {
      this.loadedAt.delete(state.id);
      if (!this.footprints.has(state.id)) {
        void this.footprintOf(state.id).catch(() => undefined);
      }
    } else if (!RESIDENT.has(state.status)) {
      this.loadedAt.delete(state.id);
      this.inFlight.delete(state.id);
    }
    this.scheduleReport();
  }

  /** Emits `report` soon, at most every MEMORY_REPORT_MIN_INTERVAL_MS (changes in between are coalesced). */
  private scheduleReport(): void {
    if (this.reportTimer !== null || this.closed) {
      return;
    }
    const { clock } = this.deps;
    const wait = Math.max(0, this.lastReportAt + MEMORY_REPORT_MIN_INTERVAL_MS - clock.now());
    this.reportTimer = clock.after(wait, () => {
      this.reportTimer = null;
      this.lastReportAt = clock.now();
      this.emit('report', this.report());
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }
}

/**
 * Requests a model serves now. When llama-server cannot be asked (a dropped connection) the model
 * counts as busy, so it is never evicted on a guess; when it answers with an HTTP error (its
 * `/slots` endpoint is off: `--no-slots`) there is nothing to wait for, and it counts as idle.
 */
async function busyCount(client: Pick<RouterApi, 'inFlight'>, modelId: string): Promise<number> {
  try {
    return await client.inFlight(modelId);
  } catch (err) {
    return err instanceof RouterHttpError ? 0 : 1;
  }
}

function describeBytes(bytes: DeviceBytes): string {
  return Object.entries(bytes)
    .map(([id, n]) => `${id} ${formatBytes(n)}`)
    .join(', ');
}
