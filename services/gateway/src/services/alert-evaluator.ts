import { z } from 'zod';
import { ModelStatusValueSchema, type AlertRule, type FiringAlert, type ModelState } from '@llamaproxy/shared';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import type { AlertLock } from '../repositories/alert-lock.js';
import type { AlertRuleRepository } from '../repositories/alert-rule.repository.js';
import type { StateRepository } from '../repositories/state.repository.js';
import type { DashboardState } from './dashboard-state.js';
import { EMPTY_ENGINE_STATE, evaluateAlerts, firingAlerts, type AlertNotification, type AlertObservation, type EngineState, type NodeObservation } from './alert-engine.js';

/** Where the engine's state is kept (metadata table): shared by every replica, so a new lock holder goes on from it. */
const STATE_KEY = 'alerts:engine';

const EngineStateSchema: z.ZodType<EngineState> = z.object({
  alerts: z.record(
    z.string(),
    z.object({
      ruleId: z.string(),
      subject: z.string(),
      phase: z.enum(['pending', 'firing']),
      since: z.number(),
      firedAt: z.number().nullable(),
      lastNotifiedAt: z.number().nullable(),
      summary: z.string(),
    }),
  ),
  memory: z.object({
    llama: z.record(z.string(), z.object({ restarts: z.number(), restartTimes: z.array(z.number()) })),
    models: z.record(z.string(), ModelStatusValueSchema),
  }),
});

export interface AlertEvaluatorDeps {
  lock: AlertLock;
  rules: AlertRuleRepository;
  state: StateRepository;
  dashboard: DashboardState;
  /** Records and queues the notifications of one evaluation. */
  notify: (notifications: AlertNotification[]) => Promise<void>;
  /** Tells the dashboards the firing list changed. */
  firingChanged: (firing: FiringAlert[]) => Promise<void>;
  /** A metrics sample older than this is not judged by (the node-silent rule covers a silent collector). */
  metricsStaleMs: number;
  /**
   * The newest log lines of a model, oldest first: a failed model's own error keeps only a short
   * tail, and the line that names the cause (out of memory, unknown architecture) may be earlier.
   */
  modelLogLines?: (nodeId: string, modelId: string) => string[];
  clock?: () => number;
  logger: Logger;
}

/**
 * Runs the rule engine where the alert lock is held: one gateway replica at a time evaluates, so
 * several replicas never send a notification twice. Reads what the gateway stores (llama-server
 * and model states, node heartbeats, the newest metrics sample), evaluates, and stores the state.
 */
export class AlertEvaluator {
  private readonly deps: AlertEvaluatorDeps;
  private readonly clock: () => number;
  private readonly log: Logger;
  private running = false;

  constructor(deps: AlertEvaluatorDeps) {
    this.deps = deps;
    this.clock = deps.clock ?? Date.now;
    this.log = deps.logger.child({ module: 'alert-evaluator' });
  }

  /** One evaluation, when this replica holds the lock. Never overlaps itself. */
  async tick(): Promise<void> {
    if (this.running) {
      return;
    }
    this.running = true;
    try {
      if (!(await this.deps.lock.acquire())) {
        return;
      }
      const { rules, state } = this.deps;
      const now = this.clock();
      const ruleList = rules.list();
      const previous = state.getMeta(STATE_KEY, EngineStateSchema) ?? EMPTY_ENGINE_STATE;
      const result = evaluateAlerts(previous, ruleList, this.observe(now));
      state.setMeta(STATE_KEY, result.state);
      if (result.notifications.length > 0) {
        this.log.info('alerts', { notifications: result.notifications.map((n) => `${n.event} ${n.rule.id} ${n.subject}`) });
        await this.deps.notify(result.notifications);
      }
      if (result.firingChanged) {
        await this.deps.firingChanged(firingAlerts(result.state, ruleList, now));
      }
    } catch (err) {
      this.log.warn('alert evaluation failed', errorMeta(err));
    } finally {
      this.running = false;
    }
  }

  /** The alerts firing now, as the last evaluation left them (any replica can answer). */
  firing(rules: readonly AlertRule[] = this.deps.rules.list()): FiringAlert[] {
    return firingAlerts(this.deps.state.getMeta(STATE_KEY, EngineStateSchema) ?? EMPTY_ENGINE_STATE, rules, this.clock());
  }

  async release(): Promise<void> {
    await this.deps.lock.release();
  }

  private withLogLines(nodeId: string, state: ModelState): ModelState {
    const lines = state.status === 'error' && state.error !== null ? (this.deps.modelLogLines?.(nodeId, state.id) ?? []) : [];
    return lines.length === 0 || state.error === null ? state : { ...state, error: { ...state.error, logTail: [...lines, ...state.error.logTail] } };
  }

  private observe(now: number): AlertObservation {
    const { dashboard } = this.deps;
    const sample = dashboard.latestMetrics();
    const nodes: NodeObservation[] = dashboard.nodes().map((n) => ({ nodeId: n.nodeId, role: 'supervisor' as const, lastHeardAt: n.lastHeardAt }));
    if (sample !== null) {
      nodes.push({ nodeId: sample.nodeId, role: 'collector', lastHeardAt: sample.ts });
    }
    return {
      now,
      llama: dashboard.llamaStatuses(),
      models: dashboard.modelViews().map((m) => ({ nodeId: m.nodeId, state: this.withLogLines(m.nodeId, m.state) })),
      nodes,
      metrics: sample !== null && now - sample.ts <= this.deps.metricsStaleMs ? sample : null,
    };
  }
}
