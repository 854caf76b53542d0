import { z } from 'zod';
import {
  AppError,
  DashboardSettingsSchema,
  ErrorCode,
  RevisionSchema,
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
  type DocumentRevisions,
  type NodeView,
  type PresetDocument,
  type Revisioned,
  type ServerConfig,
  type SkippedFile,
  decodeModelCursor,
  encodeModelCursor,
  type ModelListQuery,
} from '@llamaproxy/shared';
import type { CatalogueInfo, ModelRepository, StoredModel } from '../repositories/model.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';

const Keys = {
  settings: 'settings',
  preset: 'preset',
  latestMetrics: 'metrics:latest',
  llama: (nodeId: string) => `llama:${nodeId}`,
  args: (nodeId: string) => `args:${nodeId}`,
  /** The last document the supervisor applied, with its revision: what a failed change returns to. */
  applied: (document: string) => `applied:${document}`,
} as const;

/** Names of the revisioned documents (the `revisions` table). */
export const Documents = {
  config: 'config',
  preset: 'preset',
  settings: 'settings',
  modelSettings: (modelId: string) => `model-settings:${modelId}`,
} as const;

/** A change made under a revision check: the document before and after. */
export interface DocumentChange<T> {
  previous: Revisioned<T>;
  next: Revisioned<T>;
}

/** How one revisioned document is read and written. */
interface DocumentAccess<T> {
  name: string;
  read(): T;
  write(value: T): void;
  /** Further bookkeeping in the same transaction (the preset bumps its changed sections). */
  changed?(previous: T, next: T): void;
}

/** CONFLICT: `expected` is not the document's revision any more; carries the current one. */
export function conflict(document: string, current: Revisioned<unknown>, expected: number): AppError {
  return new AppError(ErrorCode.CONFLICT, `${document} was changed meanwhile (revision ${current.revision}, the update edited ${expected}); reload or overwrite`, {
    current: { document, revision: current.revision, value: current.value },
  });
}

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

  private readonly configAccess: DocumentAccess<ServerConfig> = {
    name: Documents.config,
    read: () => this.serverConfig(),
    write: (value) => this.saveServerConfig(value),
  };

  private readonly presetAccess: DocumentAccess<PresetDocument> = {
    name: Documents.preset,
    read: () => this.preset(),
    write: (value) => this.savePreset(value),
    // Each model's settings are a section: a section that changed gets a new revision too.
    changed: (previous, next) => {
      const before = new Map(previous.sections.map((s) => [s.name, JSON.stringify(s.values)]));
      const after = new Map(next.sections.map((s) => [s.name, JSON.stringify(s.values)]));
      for (const name of new Set([...before.keys(), ...after.keys()])) {
        if (before.get(name) !== after.get(name)) {
          const doc = Documents.modelSettings(name);
          this.state.setRevision(doc, this.state.revision(doc) + 1);
        }
      }
    },
  };

  private readonly settingsAccess: DocumentAccess<DashboardSettings> = {
    name: Documents.settings,
    read: () => this.settings(),
    write: (value) => this.saveSettings(value),
  };

  /** The stored (desired) server configuration and its revision. */
  serverConfigDoc(): Revisioned<ServerConfig> {
    return this.current(this.configAccess);
  }

  presetDoc(): Revisioned<PresetDocument> {
    return this.current(this.presetAccess);
  }

  settingsDoc(): Revisioned<DashboardSettings> {
    return this.current(this.settingsAccess);
  }

  revisions(): DocumentRevisions {
    return { config: this.state.revision(Documents.config), preset: this.state.revision(Documents.preset), settings: this.state.revision(Documents.settings) };
  }

  /**
   * Changes the server configuration under a revision check (atomic across replicas): CONFLICT
   * when `expected` is given and is not the current revision; else `build(current)` (which may
   * throw, nothing is written then) is stored at the next revision.
   */
  changeServerConfig(expected: number | undefined, build: (current: ServerConfig) => ServerConfig): DocumentChange<ServerConfig> {
    return this.change(this.configAccess, expected, build);
  }

  /** As changeServerConfig, for the whole preset (`expected`: the preset's revision). */
  changePreset(expected: number | undefined, build: (current: PresetDocument) => PresetDocument): DocumentChange<PresetDocument> {
    return this.change(this.presetAccess, expected, build);
  }

  /** As changeServerConfig, for the dashboard settings. */
  changeSettings(expected: number | undefined, build: (current: DashboardSettings) => DashboardSettings): DocumentChange<DashboardSettings> {
    return this.change(this.settingsAccess, expected, build);
  }

  /**
   * Replaces one model's settings (its preset section; none when empty) under a check of that
   * model's settings revision, so edits of two different models never conflict or overwrite
   * each other. Returns the preset change and the model's new settings revision.
   */
  changeModelSettings(
    modelId: string,
    expected: number,
    settings: Record<string, string>,
    check: (preset: PresetDocument) => void = () => undefined,
  ): DocumentChange<PresetDocument> & { settingsRevision: number } {
    const doc = Documents.modelSettings(modelId);
    return this.state.transaction(() => {
      const revision = this.state.revision(doc);
      if (revision !== expected) {
        const current = this.preset().sections.find((s) => s.name === modelId)?.values ?? {};
        throw conflict(doc, { value: current, revision }, expected);
      }
      const change = this.change(this.presetAccess, undefined, (current) => {
        const others = current.sections.filter((s) => s.name !== modelId);
        const next = { global: current.global, sections: Object.keys(settings).length > 0 ? [...others, { name: modelId, values: settings }] : others };
        check(next);
        return next;
      });
      return { ...change, settingsRevision: this.state.revision(doc) };
    });
  }

  /**
   * Puts `value` in place, at the next revision, if the document is still at `ifRevision`: undoes
   * a change whose job could not be queued or whose apply failed. Null when a newer change
   * came first (it supersedes the failed one; nothing to undo).
   */
  replaceServerConfigIf(ifRevision: number, value: ServerConfig): Revisioned<ServerConfig> | null {
    return this.replaceIf(this.configAccess, ifRevision, value);
  }

  replacePresetIf(ifRevision: number, value: PresetDocument): Revisioned<PresetDocument> | null {
    return this.replaceIf(this.presetAccess, ifRevision, value);
  }

  /** The configuration the supervisor last applied (null before the first apply this database saw). */
  appliedServerConfig(): Revisioned<ServerConfig> | null {
    return this.state.getMeta(Keys.applied(Documents.config), z.object({ value: ServerConfigSchema, revision: RevisionSchema }));
  }

  appliedPreset(): Revisioned<PresetDocument> | null {
    return this.state.getMeta(Keys.applied(Documents.preset), z.object({ value: PresetDocumentSchema, revision: RevisionSchema }));
  }

  /** Records what the supervisor applied, unless a newer revision was recorded already. */
  markApplied(document: typeof Documents.config | typeof Documents.preset, applied: Revisioned<unknown>): void {
    this.state.transaction(() => {
      const before = document === Documents.config ? this.appliedServerConfig() : this.appliedPreset();
      if (before === null || before.revision < applied.revision) {
        this.state.setMeta(Keys.applied(document), applied);
      }
    });
  }

  /**
   * Before any change was applied through this database, what is stored counts as applied (the
   * supervisor got it before revisions existed, or it is the initial configuration).
   */
  seedApplied(): void {
    this.state.transaction(() => {
      if (this.appliedServerConfig() === null) {
        this.state.setMeta(Keys.applied(Documents.config), this.serverConfigDoc());
      }
      if (this.appliedPreset() === null) {
        this.state.setMeta(Keys.applied(Documents.preset), this.presetDoc());
      }
    });
  }

  /** Supervisor nodes and whether they are heard from. */
  nodes(): NodeView[] {
    return this.state.nodes();
  }

  private current<T>(doc: DocumentAccess<T>): Revisioned<T> {
    return { value: doc.read(), revision: this.state.revision(doc.name) };
  }

  private change<T>(doc: DocumentAccess<T>, expected: number | undefined, build: (current: T) => T): DocumentChange<T> {
    return this.state.transaction(() => {
      const previous = this.current(doc);
      if (expected !== undefined && expected !== previous.revision) {
        throw conflict(doc.name, previous, expected);
      }
      const value = build(previous.value);
      doc.write(value);
      this.state.setRevision(doc.name, previous.revision + 1);
      doc.changed?.(previous.value, value);
      return { previous, next: { value, revision: previous.revision + 1 } };
    });
  }

  private replaceIf<T>(doc: DocumentAccess<T>, ifRevision: number, value: T): Revisioned<T> | null {
    return this.state.transaction(() => {
      if (this.state.revision(doc.name) !== ifRevision) {
        return null;
      }
      return this.change(doc, ifRevision, () => value).next;
    });
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

  /**
   * Ids of the models in a node's models directory, for the preset check of custom entries
   * (`presetSourceProblems`); null before the node reported a catalogue (nothing is checked then).
   */
  catalogueIds(nodeId: string): ReadonlySet<string> | null {
    return this.models.catalogueIds(nodeId);
  }

  /** Per node, the directory entries its last catalogue skipped (dangling links), with why. */
  catalogueInfos(): CatalogueInfo[] {
    return this.models.catalogueInfos();
  }

  /** What every node's last scan passed over, for the Models page. */
  skippedFiles(): SkippedFile[] {
    return this.catalogueInfos().flatMap((c) => c.skipped.map((entry) => ({ nodeId: c.nodeId, path: entry.path, reason: entry.reason })));
  }

  /** Models as the dashboard shows them: catalogue, live state and preset settings. */
  modelViews(): ModelView[] {
    return this.withSettings(this.models.list());
  }

  /**
   * One page of the model views in key order (see ModelRepository.page), with how many match
   * in all and the cursor of the next page (null on the last). VALIDATION_FAILED for a cursor
   * that is not one this gateway made.
   */
  modelPage(query: ModelListQuery): { models: ModelView[]; total: number; nextCursor: string | null } {
    const after = query.cursor === undefined ? undefined : decodeModelCursor(query.cursor);
    if (after === null) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'cursor: not a cursor of models:list');
    }
    const page = this.models.page({ limit: query.limit, ...(after === undefined ? {} : { after }), ...(query.text === undefined ? {} : { text: query.text }) });
    const last = page.models.at(-1);
    return { models: this.withSettings(page.models), total: page.total, nextCursor: page.hasMore && last !== undefined ? encodeModelCursor(last) : null };
  }

  /** The view of the first model with this id (in node order); null when there is none. */
  modelView(modelId: string): ModelView | null {
    const model = this.models.findById(modelId);
    return model === null ? null : (this.withSettings([model])[0] ?? null);
  }

  private withSettings(models: StoredModel[]): ModelView[] {
    const sections = new Map(this.preset().sections.map((s) => [s.name, s.values]));
    const revisions = this.state.revisions(Documents.modelSettings(''));
    return models.map((m) => ({ ...m, settings: sections.get(m.id) ?? {}, settingsRevision: revisions.get(Documents.modelSettings(m.id)) ?? 0 }));
  }
}
