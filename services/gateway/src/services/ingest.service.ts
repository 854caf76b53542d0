import {
  LogBatchSchema,
  MetricsEventSchema,
  RedisKeys,
  sampleSeries,
  StatusEventSchema,
  type LogEntry,
  type MetricsSample,
  type StatusEvent,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { Db } from '../db/database.js';
import type { LogRepository } from '../repositories/log.repository.js';
import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { ModelRepository } from '../repositories/model.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';
import type { StreamEntry } from '../repositories/stream-consumer.js';
import type { Broadcaster } from './broadcaster.js';
import type { DashboardState } from './dashboard-state.js';

export interface IngestDeps {
  db: Db;
  models: ModelRepository;
  logs: LogRepository;
  metrics: MetricsRepository;
  state: StateRepository;
  dashboard: DashboardState;
  broadcaster: Broadcaster;
  logger: Logger;
}

/**
 * Stores what the services report (one transaction per batch of stream entries, each entry at
 * most once) and then broadcasts it. Only the replica that read an entry handles it.
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
    const statusEvents: StatusEvent[] = [];
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
              this.storeStatus(event.data);
              statusEvents.push(event.data);
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

    for (const event of statusEvents) {
      await this.broadcastStatus(event);
    }
    if (logEntries.length > 0) {
      await this.deps.broadcaster.broadcast('logs:entry', { entries: logEntries });
    }
    const latest = samples.at(-1);
    if (latest) {
      await this.deps.broadcaster.broadcast('metrics:update', { sample: latest });
    }
  };

  private storeStatus(event: StatusEvent): void {
    const { models, dashboard } = this.deps;
    switch (event.kind) {
      case 'llama':
        dashboard.saveLlamaStatus(event.status);
        break;
      case 'model':
        models.setState(event.nodeId, event.model);
        break;
      case 'models':
        models.setStates(event.nodeId, event.models);
        break;
      case 'catalogue':
        models.syncCatalogue(event.catalogue);
        break;
      case 'args':
        dashboard.saveArgs(event.catalogue);
        break;
    }
  }

  private async broadcastStatus(event: StatusEvent): Promise<void> {
    const { broadcaster, dashboard } = this.deps;
    switch (event.kind) {
      case 'llama':
        await broadcaster.broadcast('llama:status', { status: event.status });
        break;
      case 'model':
        await broadcaster.broadcast('models:status', { nodeId: event.nodeId, model: event.model });
        break;
      case 'models':
      case 'catalogue':
        await broadcaster.broadcast('models:list', { models: dashboard.modelViews() });
        break;
      case 'args':
        break;
    }
  }
}
