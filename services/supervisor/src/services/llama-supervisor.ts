import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Catalogue, CatalogueEntry, FootprintSettings, LlamaArgCatalogue, LlamaStatus, LogRecord, MemoryReport, ModelState, PresetDocument, ServerConfig } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { JsonFile, PresetFile } from '../repositories/preset-file.js';
import type { ArgGuard } from './arg-guard.js';
import type { CatalogueScanner } from './catalogue.js';
import { CatalogueService } from './catalogue-service.js';
import { deleteModelFiles } from './downloads/model-delete.js';
import { LaunchSettings } from './launch-settings.js';
import { LlamaLifecycle } from './llama-lifecycle.js';
import { LlamaOutput } from './llama-output.js';
import { ModelControl } from './model-control.js';
import { ModelStates } from './model-states.js';
import { RouterSync } from './router-sync.js';
import { readGguf } from '../gguf/gguf-reader.js';
import type { InstanceMemory } from '../repositories/instance-memory.js';
import type { PlacementRedis } from '../repositories/placement-redis.js';
import { footprintSettingsFrom, modelShape, type ModelShape } from './placement/footprint-estimator.js';
import { PlacementService, type PlacementOptions, type StoredFootprints } from './placement/placement-service.js';
import { systemClock, type Clock, type ManagedProcess, type RouterApi } from './supervisor-ports.js';

export interface SupervisorOptions {
  nodeId: string;
  startTimeoutMs: number;
  stopGraceMs: number;
  backoff: { minMs: number; maxMs: number };
  reconcileIntervalMs: number;
  scanIntervalMs: number;
  /** How long a model may take to load before the job gives up. */
  loadTimeoutMs?: number;
}

export interface SupervisorDeps {
  logger: Logger;
  spawn: (args: string[]) => ManagedProcess;
  /** A client for the router at `url` (it carries llama-server's API key, when there is one). */
  connect: (url: string) => RouterApi;
  scanner: Pick<CatalogueScanner, 'scan'>;
  presets: PresetFile;
  appliedConfig: JsonFile<ServerConfig>;
  args: LlamaArgCatalogue | null;
  /** The flag policy, enforced before the preset file is written and before llama-server starts. */
  guard: ArgGuard;
  clock?: Clock;
  /** Memory-aware placement (issue #14); without it, loads go straight to the router. */
  placement?: {
    options: Omit<PlacementOptions, 'nodeId'>;
    memory: Pick<InstanceMemory, 'ramTotalBytes' | 'gpus' | 'gpuProcesses' | 'instancePid' | 'rssBytes'>;
    redis: Pick<PlacementRedis, 'watchSettings' | 'lastUsed'>;
    store: { read(): Promise<unknown>; write(value: StoredFootprints): Promise<void> };
  };
}

interface SupervisorEvents {
  status: [status: LlamaStatus];
  model: [state: ModelState];
  /** The router no longer lists this model. */
  modelRemoved: [modelId: string];
  catalogue: [catalogue: Catalogue];
  /** Entries of the first catalogue scan as they are read. */
  catalogueEntries: [entries: CatalogueEntry[]];
  log: [record: LogRecord];
  memory: [report: MemoryReport];
}

/**
 * The supervisor of one node's llama-server, composed of its parts: `LlamaLifecycle` (the process),
 * `RouterSync` (model states from the router), `ModelControl` (load, unload), `CatalogueService`
 * (the models directory), `LaunchSettings` (configuration and presets) and `LlamaOutput` (its log).
 * This class only wires them and re-emits what they learn (status, model, catalogue, log) for the
 * publisher; the control handler calls the operations here.
 */
export class LlamaSupervisor extends EventEmitter<SupervisorEvents> {
  readonly models: ModelStates;
  private readonly argsCatalogue: LlamaArgCatalogue | null;
  private readonly output: LlamaOutput;
  private readonly sync: RouterSync;
  private readonly lifecycle: LlamaLifecycle;
  private readonly catalogue: CatalogueService;
  private readonly settings: LaunchSettings;
  private readonly control: ModelControl;
  private readonly presets: Pick<PresetFile, 'read'>;
  private readonly log: Logger;
  private firstScan: Promise<void> = Promise.resolve();
  /** Memory-aware placement, when configured. */
  readonly placement: PlacementService | null;

  constructor(config: ServerConfig, options: SupervisorOptions, deps: SupervisorDeps) {
    super();
    const { logger } = deps;
    const clock = deps.clock ?? systemClock;
    this.presets = deps.presets;
    this.log = logger.child({ module: 'supervisor' });
    this.argsCatalogue = deps.args;
    this.models = new ModelStates((modelId, exitCode) => this.output.explainExit(modelId, exitCode));
    this.output = new LlamaOutput({ nodeId: options.nodeId, models: this.models, clock });
    this.sync = new RouterSync({ reconcileIntervalMs: options.reconcileIntervalMs }, { models: this.models, output: this.output, clock, logger });
    this.catalogue = new CatalogueService(
      { scanIntervalMs: options.scanIntervalMs },
      { scanner: deps.scanner, models: this.models, output: this.output, router: this.sync, clock, logger },
    );
    this.settings = new LaunchSettings(config, {
      presets: deps.presets,
      appliedConfig: deps.appliedConfig,
      guard: deps.guard,
      lifecycle: { exclusive: (fn) => this.lifecycle.exclusive(fn) },
      router: this.sync,
      catalogue: this.catalogue,
      logger,
      placementMode: deps.placement?.options.mode,
    });
    this.lifecycle = new LlamaLifecycle(
      { nodeId: options.nodeId, startTimeoutMs: options.startTimeoutMs, stopGraceMs: options.stopGraceMs, backoff: options.backoff },
      { plan: () => this.settings.plan(), spawn: deps.spawn, connect: deps.connect, output: this.output, sync: this.sync, models: this.models, clock, logger },
    );
    const placement = deps.placement;
    this.placement =
      placement === undefined
        ? null
        : new PlacementService(
            { ...placement.options, nodeId: options.nodeId },
            {
              models: this.models,
              router: this.lifecycle,
              memory: placement.memory,
              redis: placement.redis,
              store: placement.store,
              shape: (modelId) => this.modelShape(modelId),
              footprintSettings: (modelId) => this.footprintSettings(modelId, deps.presets),
              unload: (modelId) => this.control.unloadModel(modelId),
              load: (modelId) => this.control.loadModel(modelId, () => undefined),
              clock,
              logger,
            },
          );
    this.control = new ModelControl(
      { modelsDir: config.modelsDir, loadTimeoutMs: options.loadTimeoutMs, unloadTimeoutMs: options.stopGraceMs + 30_000 },
      { models: this.models, router: this.lifecycle, catalogue: this.catalogue, output: this.output, clock, placement: this.placement ?? undefined },
    );
    this.placement?.on('report', (report) => this.emit('memory', report));
    this.models.on('change', (state) => this.emit('model', state));
    this.models.on('remove', (modelId) => this.emit('modelRemoved', modelId));
    this.output.on('log', (record) => this.emit('log', record));
    let wasRunning = false;
    this.lifecycle.on('status', (status) => {
      this.emit('status', status);
      // Start-up models, each time llama-server (re)starts.
      const running = status.state === 'running';
      if (running && !wasRunning && this.placement !== null) {
        void this.placement.loadStartupModels();
      }
      wasRunning = running;
    });
    this.catalogue.on('catalogue', (catalogue) => {
      this.emit('catalogue', catalogue);
      this.placement?.estimateInBackground(catalogue.entries.filter((e) => e.valid).map((e) => e.id));
    });
    this.catalogue.on('entries', (entries) => this.emit('catalogueEntries', entries));
  }

  get status(): LlamaStatus {
    return this.lifecycle.status;
  }

  get currentConfig(): ServerConfig {
    return this.settings.current;
  }

  get currentCatalogue(): Catalogue | null {
    return this.catalogue.current;
  }

  get argCatalogue(): LlamaArgCatalogue | null {
    return this.argsCatalogue;
  }

  /** Loads the persisted configuration. */
  async init(): Promise<void> {
    await this.settings.load();
    await this.placement?.start();
    if (this.placement?.mode === 'memory') {
      // The router loads these itself when it starts, past placement's budget.
      const preset = await this.presets.read().catch(() => null);
      const startup = (preset?.sections ?? []).filter((s) => /^(1|true|on|yes)$/i.test(s.values['load-on-startup'] ?? '')).map((s) => s.name);
      if (startup.length > 0 || /^(1|true|on|yes)$/i.test(preset?.global['load-on-startup'] ?? '')) {
        this.log.warn('the preset marks models load-on-startup: llama-server loads them itself, outside the memory budget; use the placement setting "load on start-up" instead', {
          models: startup.join(', ') || '*',
        });
      }
    }
  }

  /**
   * Starts scanning the models directory (then watching it), without waiting for the scan: the
   * router reads the directory itself, and reading the headers of thousands of files takes a
   * while, on this process's event loop, so the app starts it once llama-server runs and jobs are
   * taken. `scanned` resolves when the first scan is done (or failed, which is logged).
   */
  watchCatalogue(): void {
    // Placement estimates footprints from the 'catalogue' event the scan ends with.
    this.firstScan = this.catalogue.watch().catch((err: unknown) => {
      this.log.error('catalogue scan failed', { error: (err as Error).message });
    });
  }

  /** Resolves when the first catalogue scan after `watchCatalogue` is done. */
  get scanned(): Promise<void> {
    return this.firstScan;
  }

  start(): Promise<LlamaStatus> {
    return this.lifecycle.start();
  }

  stop(): Promise<LlamaStatus> {
    return this.lifecycle.stop();
  }

  restart(): Promise<LlamaStatus> {
    return this.lifecycle.restart();
  }

  /** Stops llama-server for good (shutdown). */
  async close(): Promise<void> {
    this.placement?.close();
    this.catalogue.close();
    await this.lifecycle.close();
  }

  applyConfig(next: ServerConfig): Promise<LlamaStatus> {
    return this.settings.applyConfig(next);
  }

  applyPreset(preset: PresetDocument): Promise<string> {
    return this.settings.applyPreset(preset);
  }

  rescan(): Promise<Catalogue> {
    return this.catalogue.rescan();
  }

  loadModel(modelId: string, onProgress: (state: ModelState) => void): Promise<ModelState> {
    return this.control.loadModel(modelId, onProgress);
  }

  unloadModel(modelId: string): Promise<ModelState> {
    return this.control.unloadModel(modelId);
  }

  /**
   * The model's shape from the GGUF header(s) of its catalogue entry (every shard; not the mmproj).
   * The catalogue is scanned after llama-server starts, so a load that comes before the first scan
   * ends waits for it: without its entry the model's footprint would count as nothing.
   */
  private async modelShape(modelId: string): Promise<ModelShape | null> {
    const find = (): CatalogueEntry | undefined => this.catalogue.current?.entries.find((e) => e.id === modelId);
    if (find() === undefined) {
      await this.firstScan;
    }
    const entry = find();
    if (entry === undefined || !entry.valid) {
      return null;
    }
    const shards = entry.files.filter((f) => f !== entry.path && f !== entry.mmproj && f !== entry.draft && f.toLowerCase().endsWith('.gguf'));
    const files = await Promise.all([entry.path, ...shards].map((f) => readGguf(join(this.settings.current.modelsDir, f))));
    return modelShape(files);
  }

  /** The settings an instance of `modelId` starts with: configuration, extra arguments, then the preset. */
  private async footprintSettings(modelId: string, presets: Pick<PresetFile, 'read'>): Promise<FootprintSettings> {
    const config = this.settings.current;
    const preset = await presets.read().catch(() => null);
    return footprintSettingsFrom(
      { ctxSize: config.ctxSize, parallel: config.parallel, cacheTypeK: 'f16', cacheTypeV: 'f16', gpuLayers: config.gpuLayers },
      [config.extraArgs],
      [preset?.global, preset?.sections.find((section) => section.name === modelId)?.values],
    );
  }

  /** Deletes a model's file or folder (refused while it is in use), then rescans; returns what was removed. */
  async deleteModel(modelId: string, modelsDir: string): Promise<string> {
    const removed = await deleteModelFiles({ modelsDir, catalogue: () => this.catalogue.current, state: (id) => this.models.get(id) }, modelId);
    await this.catalogue.rescan();
    return removed;
  }
}
