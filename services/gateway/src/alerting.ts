import type { Redis } from 'ioredis';
import type { DeliveryView, FiringAlert } from '@llamaproxy/shared';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import type { GatewayConfig } from './config.js';
import type { Db } from './db/database.js';
import type { AlertHandlerDeps } from './handlers/alerts.handlers.js';
import { AlertChannelRepository } from './repositories/alert-channel.repository.js';
import { AlertDeliveryRepository } from './repositories/alert-delivery.repository.js';
import { AlertLock } from './repositories/alert-lock.js';
import { AlertRuleRepository } from './repositories/alert-rule.repository.js';
import { NotificationQueue } from './repositories/notification-queue.js';
import { NotificationSender } from './repositories/notification-sender.js';
import { LogRepository } from './repositories/log.repository.js';
import type { StateRepository } from './repositories/state.repository.js';
import { AlertConfigService } from './services/alert-config.service.js';
import { AlertDeliveryService } from './services/alert-delivery.service.js';
import { AlertEvaluator } from './services/alert-evaluator.js';
import type { DashboardState } from './services/dashboard-state.js';

/** Redis key of the evaluator's lease. */
const LOCK_KEY = 'llamaproxy:alerts:evaluator';

export interface Alerting {
  /** What the request handlers need. */
  handlers: AlertHandlerDeps;
  /** Starts this replica's delivery worker and its evaluation timer. */
  start(): void;
  /** Deletes old delivery history (called with the other pruning). */
  prune(): void;
  close(): Promise<void>;
}

/**
 * Composes alerting: channels, rules and history in SQLite, the evaluator (one replica at a time,
 * by a Redis lease), and the notifications queue with a worker on every replica.
 */
export function createAlerting(deps: {
  config: GatewayConfig;
  db: Db;
  redis: Redis;
  state: StateRepository;
  dashboard: DashboardState;
  broadcast: { firing: (firing: FiringAlert[]) => Promise<void>; delivery: (delivery: DeliveryView) => Promise<void> };
  logger: Logger;
}): Alerting {
  const { config, db, redis, state, dashboard, broadcast, logger } = deps;
  const settings = config.alerts;
  const channels = new AlertChannelRepository(db);
  const rules = new AlertRuleRepository(db);
  const deliveries = new AlertDeliveryRepository(db);
  const logs = new LogRepository(db);
  const queue = new NotificationQueue(config.redisUrl, { attempts: settings.retryAttempts, backoffMs: settings.retryBackoffMs }, logger);
  const delivery = new AlertDeliveryService({ channels, deliveries, queue, sender: new NotificationSender(), changed: broadcast.delivery, dashboardUrl: settings.dashboardUrl, logger });
  const evaluator = new AlertEvaluator({
    // The lease outlives a few missed evaluations, so a busy replica keeps it; a dead one loses it soon.
    lock: new AlertLock(redis, LOCK_KEY, config.replicaId, Math.max(3000, settings.evalIntervalMs * 4)),
    rules,
    state,
    dashboard,
    notify: (n) => delivery.enqueue(n),
    firingChanged: broadcast.firing,
    metricsStaleMs: settings.metricsStaleMs,
    modelLogLines: (nodeId, modelId) =>
      logs
        .query({ modelId, limit: 60 })
        .entries.filter((e) => e.nodeId === null || e.nodeId === nodeId)
        .sort((a, b) => a.id - b.id)
        .map((e) => e.message),
    logger,
  });
  let timer: NodeJS.Timeout | null = null;
  return {
    handlers: { alertConfig: new AlertConfigService({ channels, rules }), alertDelivery: delivery, alertEvaluator: evaluator, alertDeliveries: deliveries },
    start() {
      queue.start(delivery.process);
      timer = setInterval(() => void evaluator.tick(), settings.evalIntervalMs);
      timer.unref();
    },
    prune() {
      try {
        deliveries.prune(settings.historyDays * 86_400_000);
      } catch (err) {
        logger.warn('alert history pruning failed', errorMeta(err));
      }
    },
    async close() {
      if (timer !== null) {
        clearInterval(timer);
      }
      await queue.close();
      await evaluator.release();
    },
  };
}
