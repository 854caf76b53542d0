import {
  DashboardSettingsSchema,
  DEFAULT_DASHBOARD_SETTINGS,
  EMPTY_PRESET,
  LlamaArgCatalogueSchema,
  LlamaStatusSchema,
  MetricsSampleSchema,
  PresetDocumentSchema,
  ServerConfigSchema,
  type DashboardSettings,
  type LlamaArgCatalogue,
  type LlamaStatus,
  type MetricsSample,
  type ModelView,
  type PresetDocument,
  type ServerConfig,
} from '@llamaproxy/shared';
import type { ModelRepository } from '../repositories/model.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';

const Keys = {
  settings: 'settings',
  preset: 'preset',
  latestMetrics: 'metrics:latest',
  llama: (nodeId: string) => `llama:${nodeId}`,
  args: (nodeId: string) => `args:${nodeId}`,
} as const;

/** Typed reads and writes of the documents the gateway keeps in SQLite. */
export class DashboardState {
  private readonly state: StateRepository;
  private readonly models: ModelRepository;
  private readonly initialConfig: ServerConfig;

  constructor(state: StateRepository, models: ModelRepository, initialConfig: ServerConfig) {
    this.state = state;
    this.models = models;
    this.initialConfig = initialConfig;
  }

  serverConfig(): ServerConfig {
    return this.state.getServerConfig(ServerConfigSchema) ?? this.initialConfig;
  }

  saveServerConfig(config: ServerConfig): void {
    this.state.saveServerConfig(config);
  }

  settings(): DashboardSettings {
    return this.state.getMeta(Keys.settings, DashboardSettingsSchema) ?? DEFAULT_DASHBOARD_SETTINGS;
  }

  saveSettings(settings: DashboardSettings): void {
    this.state.setMeta(Keys.settings, settings);
  }

  preset(): PresetDocument {
    return this.state.getMeta(Keys.preset, PresetDocumentSchema) ?? EMPTY_PRESET;
  }

  savePreset(preset: PresetDocument): void {
    this.state.setMeta(Keys.preset, preset);
  }

  llamaStatuses(): LlamaStatus[] {
    return this.state
      .metaKeys('llama:')
      .map((key) => this.state.getMeta(key, LlamaStatusSchema))
      .filter((s): s is LlamaStatus => s !== null);
  }

  saveLlamaStatus(status: LlamaStatus): void {
    this.state.setMeta(Keys.llama(status.nodeId), status);
  }

  args(nodeId: string): LlamaArgCatalogue | null {
    return this.state.getMeta(Keys.args(nodeId), LlamaArgCatalogueSchema);
  }

  saveArgs(catalogue: LlamaArgCatalogue): void {
    this.state.setMeta(Keys.args(catalogue.nodeId), catalogue);
  }

  latestMetrics(): MetricsSample | null {
    return this.state.getMeta(Keys.latestMetrics, MetricsSampleSchema);
  }

  saveLatestMetrics(sample: MetricsSample): void {
    this.state.setMeta(Keys.latestMetrics, sample);
  }

  /** Models as the dashboard shows them: catalogue, live state and preset settings. */
  modelViews(): ModelView[] {
    const sections = new Map(this.preset().sections.map((s) => [s.name, s.values]));
    return this.models.list().map((m) => ({ ...m, settings: sections.get(m.id) ?? {} }));
  }
}
