import { EventEmitter } from 'node:events';
import type { Catalogue, LlamaArgCatalogue, LlamaStatus, LogRecord, ModelState, PresetDocument, ServerConfig } from '@llamaproxy/shared';
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
}

interface SupervisorEvents {
  status: [status: LlamaStatus];
  model: [state: ModelState];
  catalogue: [catalogue: Catalogue];
  log: [record: LogRecord];
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

  constructor(config: ServerConfig, options: SupervisorOptions, deps: SupervisorDeps) {
    super();
    const { logger } = deps;
    const clock = deps.clock ?? systemClock;
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
    });
    this.lifecycle = new LlamaLifecycle(
      { nodeId: options.nodeId, startTimeoutMs: options.startTimeoutMs, stopGraceMs: options.stopGraceMs, backoff: options.backoff },
      { plan: () => this.settings.plan(), spawn: deps.spawn, connect: deps.connect, output: this.output, sync: this.sync, models: this.models, clock, logger },
    );
    this.control = new ModelControl(
      { modelsDir: config.modelsDir, loadTimeoutMs: options.loadTimeoutMs, unloadTimeoutMs: options.stopGraceMs + 30_000 },
      { models: this.models, router: this.lifecycle, catalogue: this.catalogue, output: this.output, clock },
    );
    this.models.on('change', (state) => this.emit('model', state));
    this.output.on('log', (record) => this.emit('log', record));
    this.lifecycle.on('status', (status) => this.emit('status', status));
    this.catalogue.on('catalogue', (catalogue) => this.emit('catalogue', catalogue));
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

  /** Loads the persisted configuration, scans the models directory and starts watching it. */
  async init(): Promise<void> {
    await this.settings.load();
    await this.catalogue.watch();
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

  /** Deletes a model's file or folder (refused while it is in use), then rescans; returns what was removed. */
  async deleteModel(modelId: string, modelsDir: string): Promise<string> {
    const removed = await deleteModelFiles({ modelsDir, catalogue: () => this.catalogue.current, state: (id) => this.models.get(id) }, modelId);
    await this.catalogue.rescan();
    return removed;
  }
}
