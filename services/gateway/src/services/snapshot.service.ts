import { MODEL_FIRST_PAGE, type ConnectionIdentity, type Cursors, type MemoryReport, type PlacementSettingsDoc, type Snapshot } from '@llamaproxy/shared';
import type { LogRepository } from '../repositories/log.repository.js';
import type { Broadcaster } from './broadcaster.js';
import type { DashboardState } from './dashboard-state.js';

/** Most log lines a resuming client gets at once; beyond that it starts fresh. */
const RESUME_LOG_LIMIT = 5000;
/** Log lines in a fresh snapshot. */
const FRESH_LOG_LIMIT = 200;

/**
 * The full state a client gets on connect, or on resume with what it missed since its cursors.
 * Of the model list it holds the first page only: the client reads the rest with `models:list`
 * from `modelsNext`, and follows `models:changed` / `models:status` / `models:states` after that (a resume reads
 * the list afresh the same way).
 */
export class SnapshotService {
  private readonly deps: {
    dashboard: DashboardState;
    logs: LogRepository;
    broadcaster: Broadcaster;
    /** Placement (#14): each node's newest memory report and the settings document. */
    placement?: { memory: () => MemoryReport[]; settings: () => PlacementSettingsDoc };
  };

  constructor(deps: SnapshotService['deps']) {
    this.deps = deps;
  }

  async snapshot(identity: ConnectionIdentity, cursors?: Cursors): Promise<Snapshot> {
    const { dashboard: d, logs: repo, broadcaster } = this.deps;
    // Read the cursors first: anything that happens while we read is broadcast after them.
    const eventSeq = await broadcaster.currentSeq();
    const logId = repo.latestId();
    let logs;
    let logsTruncated = false;
    if (cursors !== undefined) {
      const page = repo.query({ afterId: cursors.logId, limit: RESUME_LOG_LIMIT });
      logs = page.entries;
      logsTruncated = page.hasMore;
      if (logsTruncated) {
        // Too much was missed: the client starts over from the newest lines.
        logs = repo.query({ limit: RESUME_LOG_LIMIT }).entries.reverse();
      }
    } else {
      logs = repo.query({ limit: FRESH_LOG_LIMIT }).entries.reverse();
    }
    const models = d.modelPage({ limit: MODEL_FIRST_PAGE });
    return {
      identity,
      models: models.models,
      modelsTotal: models.total,
      modelsNext: models.nextCursor,
      skipped: d.skippedFiles(),
      llama: d.llamaStatuses(),
      config: d.serverConfig(),
      settings: d.settings(),
      revisions: d.revisions(),
      nodes: d.nodes(),
      metrics: d.latestMetrics(),
      logs,
      logsTruncated,
      cursors: { logId, eventSeq },
      ...(this.deps.placement === undefined ? {} : { memory: this.deps.placement.memory(), placement: this.deps.placement.settings() }),
    };
  }
}
