import {
  LogBatchSchema,
  MetricsEventSchema,
  NODE_OFFLINE_AFTER_MS,
  RedisKeys,
  sampleSeries,
  StatusEventSchema,
  type LlamaStatus,
  type LogEntry,
  type MetricsSample,
  type ModelState,
  type NodeView,
  type StatusEvent,
  type MemoryReport,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import type { LogRepository } from '../repositories/log.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { ModelRepository } from '../repositories/model.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';
import type { StreamEntry } from '../repositories/stream-consumer.js';
import type { Broadcaster } from './broadcaster.js';
import type { DashboardState } from './dashboard-state.js';
import type { ModelFeed } from './model-feed.js';
import type { MemoryReports } from './memory-reports.js';

export interface IngestDeps {
  db: Db;
  models: ModelRepository;
  logs: LogRepository;
  metrics: MetricsRepository;
  state: StateRepository;
  dashboard: DashboardState;
  broadcaster: Broadcaster;
  /** Sends what changed in the model list (not the whole list). */
  feed: ModelFeed;
  logger: Logger;
  /** How long a node counts as online after a report (NODE_OFFLINE_AFTER_MS by default). */
  offlineAfterMs?: number;
  /**
   * Every model state a node keeps in Redis (its models hash) and their digest, read at once; for
   * a heartbeat whose digest differs from what is stored. Without it such a heartbeat is only logged.
   */
  readNodeModels?: (nodeId: string) => Promise<{ models: ModelState[]; digest: string | null }>;
  /** Placement's memory reports (#14); without it they are ignored. */
  memory?: MemoryReports;
}

/**
 * From this many state changes of one node in one stored batch on, they go as one `models:states`
 * broadcast (each model's newest state) instead of one `models:status` each: a node starting
 * with 5,000 models, or a resync, then costs a few broadcasts, not 5,000. Below it (a load's
 * progress, a few models changing) each change stays its own small `models:status`, and a watcher
 * sees every transition.
 */
export const MODEL_STATES_BATCH_MIN = 8;
/** The most states in one `models:states` broadcast (a larger batch is sent in parts). */
export const MODEL_STATES_BATCH_MAX = 2000;

/** Metadata key of the digest of a node's model states as stored here (see the `state` heartbeat). */
export const modelsDigestKey = (nodeId: string): string => `node:${nodeId}:models-digest`;
const DigestSchema = z.string();

/** What storing one status event changed, to be broadcast after the transaction. */
type StatusChange =
  | { kind: 'llama'; status: LlamaStatus }
  | { kind: 'model'; nodeId: string; model: ModelState }
  | { kind: 'list' }
  | { kind: 'node'; node: NodeView }
  /** The node's heartbeat digest differs from what is stored: read its model states again. */
  | { kind: 'resync'; nodeId: string; digest: string }
  | { kind: 'memory'; report: MemoryReport };

/**
 * Stores what the services report (one transaction per batch of stream entries, each entry at
 * most once) and then broadcasts it. Only the replica that read an entry handles it. A node's
 * periodic full state (`state`) is stored and broadcast only where it differs from what is stored,
 * and every status report counts as hearing from its node.
 */
export class IngestService {
  private readonly deps: IngestDeps;
  private readonly log: Logger;

  constructor(deps: IngestDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'ingest' });
  }

  handle = async (entries: StreamEntry[]): Promise<void> => {
    const { db, state } = this.deps;
    const changes: StatusChange[] = [];
    const logEntries: LogEntry[] = [];
    const samples: MetricsSample[] = [];
    db.transaction(() => {
      for (const entry of entries) {
        if (!state.claimStreamEntry(`${entry.stream}:${entry.id}`)) {
          continue;
        }
        switch (entry.stream) {
          case RedisKeys.statusStream: {
            const event = StatusEventSchema.safeParse(entry.payload);
            if (event.success) {
              changes.push(...this.storeStatus(event.data, streamTime(entry.id)));
            } else {
              this.log.warn('invalid status event', { id: entry.id });
            }
            break;
          }
          case RedisKeys.logStream: {
            const batch = LogBatchSchema.safeParse(entry.payload);
            if (batch.success) {
              logEntries.push(...this.deps.logs.insert(batch.data.records));
            } else {
              this.log.warn('invalid log batch', { id: entry.id });
            }
            break;
          }
          case RedisKeys.metricsStream: {
            const event = MetricsEventSchema.safeParse(entry.payload);
            if (event.success) {
              this.deps.metrics.insert(event.data.sample.ts, sampleSeries(event.data.sample));
              this.deps.dashboard.saveLatestMetrics(event.data.sample);
              samples.push(event.data.sample);
            } else {
              this.log.warn('invalid metrics sample', { id: entry.id });
            }
            break;
          }
        }
      }
    }).immediate();

    await this.broadcastChanges(changes);
    if (logEntries.length > 0) {
      await this.deps.broadcaster.broadcast('logs:entry', { entries: logEntries });
    }
    const latest = samples.at(-1);
    if (latest) {
      await this.deps.broadcaster.broadcast('metrics:update', { sample: latest });
    }
  };

  /**
   * Stores a node's last reported state (its snapshot hash in Redis): what a gateway that was down
   * missed, or what a trimmed stream lost. Broadcasts what differs from what was stored.
   */
  reconcile = async (events: StatusEvent[]): Promise<void> => {
    const changes = this.deps.db.transaction(() => events.flatMap((e) => this.storeStatus(e, null))).immediate();
    await this.broadcastChanges(changes);
  };

  /**
   * Stores one status event. `heardAt`: when the node sent it (the stream entry's time), null for
   * a snapshot read back from Redis (it says nothing about the node being alive now).
   */
  private storeStatus(event: StatusEvent, heardAt: number | null): StatusChange[] {
    const { models, dashboard, state } = this.deps;
    const changes: StatusChange[] = [];
    if (heardAt !== null && state.nodeHeard(event.nodeId, event.kind === 'state' ? Math.min(event.sentAt, heardAt) : heardAt, this.deps.offlineAfterMs ?? NODE_OFFLINE_AFTER_MS)) {
      changes.push({ kind: 'node', node: { nodeId: event.nodeId, online: true, stale: false, lastHeardAt: heardAt } });
    }
    switch (event.kind) {
      case 'llama':
        dashboard.saveLlamaStatus(event.status);
        changes.push({ kind: 'llama', status: event.status });
        break;
      case 'model':
        models.setState(event.nodeId, event.model);
        changes.push({ kind: 'model', nodeId: event.nodeId, model: event.model });
        if (event.digest !== undefined) {
          // In step while each delta starts from the digest the last one ended with; a delta that
          // was lost (or stored out of order by another replica) breaks the chain, and the next
          // heartbeat then reads every state once.
          const stored = state.getMeta(modelsDigestKey(event.nodeId), DigestSchema);
          state.setMeta(modelsDigestKey(event.nodeId), stored === event.prevDigest ? event.digest : `broken:${event.digest}`);
        }
        break;
      case 'models':
        models.setStates(event.nodeId, event.models);
        changes.push({ kind: 'list' });
        break;
      case 'catalogue':
        models.syncCatalogue(event.catalogue);
        changes.push({ kind: 'list' });
        break;
      case 'catalogue-entries':
        models.upsertEntries(event.nodeId, event.entries);
        changes.push({ kind: 'list' });
        break;
      case 'args':
        dashboard.saveArgs(event.catalogue);
        break;
      case 'state': {
        const before = dashboard.llamaStatuses().find((s) => s.nodeId === event.nodeId);
        if (before === undefined || JSON.stringify(before) !== JSON.stringify(event.status)) {
          dashboard.saveLlamaStatus(event.status);
          changes.push({ kind: 'llama', status: event.status });
        }
        if (heardAt !== null && state.getMeta(modelsDigestKey(event.nodeId), DigestSchema) !== event.digest) {
          changes.push({ kind: 'resync', nodeId: event.nodeId, digest: event.digest });
        }
        break;
      }
      case 'memory':
        // Placement's memory report: kept for the snapshot, broadcast when it changed.
        if (this.deps.memory?.store(event.report) === true) {
          changes.push({ kind: 'memory', report: event.report });
        }
        break;
    }
    return changes;
  }

  /**
   * Makes the stored model states of `nodeId` what its models hash in Redis holds: states that
   * differ are stored (and returned as changes), rows of models only the router knew and no longer
   * reports go, and the stored digest becomes the hash's. O(models), so only on a digest mismatch.
   */
  private async resync(nodeId: string): Promise<StatusChange[]> {
    const read = this.deps.readNodeModels;
    if (read === undefined) {
      return [];
    }
    const { models: states, digest } = await read(nodeId);
    const { db, models, state } = this.deps;
    return db
      .transaction(() => {
        const changes: StatusChange[] = [];
        const stored = models.statesOf(nodeId);
        for (const model of states) {
          if (stored.get(model.id) !== JSON.stringify(model)) {
            models.setState(nodeId, model);
            changes.push({ kind: 'model', nodeId, model });
          }
        }
        models.retainReported(nodeId, states.map((m) => m.id));
        if (digest !== null) {
          state.setMeta(modelsDigestKey(nodeId), digest);
        }
        this.log.info('model states read again', { nodeId, models: states.length, changed: changes.length });
        return changes;
      })
      .immediate();
  }

  private async broadcastChanges(input: StatusChange[]): Promise<void> {
    const { broadcaster, feed } = this.deps;
    let listSent = false;
    const changes: StatusChange[] = [];
    const resynced = new Set<string>();
    for (const change of input) {
      if (change.kind !== 'resync') {
        changes.push(change);
      } else if (!resynced.has(change.nodeId)) {
        resynced.add(change.nodeId);
        changes.push(...(await this.resync(change.nodeId).catch((err: unknown) => {
          this.log.warn('cannot read model states again', { nodeId: change.nodeId, error: (err as Error).message });
          return [];
        })));
      }
    }
    // Memory reports are coalesced: only each node's newest of the batch is sent.
    const newestMemory = new Map(changes.flatMap((c) => (c.kind === 'memory' ? [[c.report.nodeId, c] as const] : [])));
    const batched = batchModelStates(changes);
    for (const change of changes) {
      switch (change.kind) {
        case 'llama':
          await broadcaster.broadcast('llama:status', { status: change.status });
          break;
        case 'model': {
          const batch = batched.get(change.nodeId);
          if (batch === undefined) {
            await broadcaster.broadcast('models:status', { nodeId: change.nodeId, model: change.model });
          } else if (batch.size > 0) {
            // Sent where the node's first change was, with every model's newest state (all are stored).
            const models = [...batch.values()];
            batch.clear();
            for (let i = 0; i < models.length; i += MODEL_STATES_BATCH_MAX) {
              await broadcaster.broadcast('models:states', { nodeId: change.nodeId, models: models.slice(i, i + MODEL_STATES_BATCH_MAX) });
            }
          }
          break;
        }
        case 'list':
          // One list per batch is enough: it is read after every change was stored.
          if (!listSent) {
            listSent = true;
            await feed.publish({ skipped: true });
          }
          break;
        case 'node':
          await broadcaster.broadcast('nodes:status', { node: change.node });
          break;
        case 'memory':
          if (newestMemory.get(change.report.nodeId) === change) {
            await broadcaster.broadcast('memory:update', { report: change.report });
          }
          break;
        case 'resync':
          break;
      }
    }
  }
}

/**
 * The nodes whose model state changes in `changes` are to go as one `models:states`: node id →
 * model id → that model's newest state (in the order each model first changed). Nodes with fewer
 * than MODEL_STATES_BATCH_MIN changes are absent (each goes as its own `models:status`).
 */
function batchModelStates(changes: readonly StatusChange[]): Map<string, Map<string, ModelState>> {
  const counts = new Map<string, number>();
  for (const change of changes) {
    if (change.kind === 'model') {
      counts.set(change.nodeId, (counts.get(change.nodeId) ?? 0) + 1);
    }
  }
  const batched = new Map<string, Map<string, ModelState>>();
  for (const change of changes) {
    if (change.kind === 'model' && (counts.get(change.nodeId) ?? 0) >= MODEL_STATES_BATCH_MIN) {
      let batch = batched.get(change.nodeId);
      if (batch === undefined) {
        batch = new Map();
        batched.set(change.nodeId, batch);
      }
      batch.set(change.model.id, change.model);
    }
  }
  return batched;
}

/** The epoch ms a Redis stream entry was added (its id is `<ms>-<seq>`). */
export function streamTime(id: string): number {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? ms : Date.now();
}
