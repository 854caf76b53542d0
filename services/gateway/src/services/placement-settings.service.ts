import type { PlacementSettings, PlacementSettingsDoc, PlacementUpdate } from '@llamaproxy/shared';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import type { PlacementSettingsRepository } from '../repositories/placement-settings.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';
import { conflict } from './dashboard-state.js';

/** The revisioned document name of the placement settings (the `revisions` table). */
export const PLACEMENT_DOCUMENT = 'placement';

export interface PlacementSettingsDeps {
  repo: PlacementSettingsRepository;
  state: Pick<StateRepository, 'transaction' | 'revision' | 'setRevision'>;
  /** Hands the document to the supervisors (Redis key and notice). */
  share: (settings: PlacementSettings) => Promise<void>;
  /** Tells every client (`placement:updated`). */
  broadcast: (doc: PlacementSettingsDoc) => Promise<void>;
  logger: Logger;
}

/**
 * Per-model placement settings (pin, idle TTL, load on start-up) and the default TTL, issue #14:
 * stored in SQLite under one revision, changed atomically across replicas, then handed to the
 * supervisors and broadcast. SQLite is the truth: the gateway hands the document over again at
 * start, so a Redis that lost it (a restart without persistence) gets it back.
 */
export class PlacementSettingsService {
  private readonly deps: PlacementSettingsDeps;
  private readonly log: Logger;

  constructor(deps: PlacementSettingsDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'placement-settings' });
  }

  /** The stored document and its revision. */
  current(): PlacementSettingsDoc {
    return { settings: this.deps.repo.read(), revision: this.deps.state.revision(PLACEMENT_DOCUMENT) };
  }

  /**
   * Applies `update` if `update.revision` is still current (CONFLICT with the current document
   * otherwise; nothing is written then), then shares and broadcasts the result. Sharing with
   * Redis is retried at the next change or start when it fails (logged; the change is kept).
   */
  async update(update: PlacementUpdate): Promise<PlacementSettingsDoc> {
    const { repo, state } = this.deps;
    const next = state.transaction(() => {
      const revision = state.revision(PLACEMENT_DOCUMENT);
      if (revision !== update.revision) {
        throw conflict(PLACEMENT_DOCUMENT, { value: repo.read(), revision }, update.revision);
      }
      if (update.defaultTtlSeconds !== undefined) {
        repo.setDefaultTtl(update.defaultTtlSeconds);
      }
      for (const [modelId, settings] of Object.entries(update.models ?? {})) {
        repo.setModel(modelId, settings);
      }
      state.setRevision(PLACEMENT_DOCUMENT, revision + 1);
      return { settings: repo.read(), revision: revision + 1 };
    });
    await this.share(next.settings);
    await this.deps.broadcast(next);
    return next;
  }

  /** Hands the stored document to the supervisors (at start). Never throws (logged). */
  async shareStored(): Promise<void> {
    await this.share(this.deps.repo.read());
  }

  private async share(settings: PlacementSettings): Promise<void> {
    try {
      await this.deps.share(settings);
    } catch (err) {
      this.log.warn('placement settings not handed to the supervisors (Redis)', errorMeta(err));
    }
  }
}
