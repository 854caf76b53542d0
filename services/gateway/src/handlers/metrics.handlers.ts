import type { MetricsRepository } from '../repositories/metrics.repository.js';
import type { DashboardState } from '../services/dashboard-state.js';
import { readMetricsHistory } from '../services/metrics-history.js';
import type { DomainHandlers } from './request-context.js';

/** The newest metrics sample and stored history. */
export function createMetricsHandlers(deps: { dashboard: DashboardState; metrics: MetricsRepository }): DomainHandlers<'metrics:latest' | 'metrics:history'> {
  const { dashboard, metrics } = deps;
  return {
    'metrics:latest': async () => ({ sample: dashboard.latestMetrics() }),
    // Bounded work: range clamped, tier from the span, repeats once, points per series capped.
    'metrics:history': async (req) => readMetricsHistory(metrics, req),
  };
}
