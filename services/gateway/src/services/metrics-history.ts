import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { AppError, ErrorCode, historyPointsPerSeries, type MetricsPoint, type MetricsResolution } from '@llamaproxy/shared';
import { downsampleStep, TIER_ORDER, tierFor, type MetricsRepository, type Tier } from '../repositories/metrics.repository.js';

/** How far past the gateway's clock `to` may reach: other nodes' clocks may run a little ahead. */
export const HISTORY_FUTURE_SLACK_MS = 86_400_000;

/** A `metrics:history` request as the handler receives it (parsed: `resolution` has its default). */
export interface MetricsHistoryRequest {
  /** Range start and end, ms since the epoch, inclusive. */
  from: number;
  to: number;
  resolution: MetricsResolution;
  /** Series names; repeats are answered once. */
  series: readonly string[];
}

export interface MetricsHistoryReply {
  /** The tier that answered (may be coarser than the one asked for, see `historyTier`). */
  resolution: Tier;
  /** One entry per distinct requested name, oldest first, at most `historyPointsPerSeries(names)` points each. */
  series: Record<string, MetricsPoint[]>;
}

/**
 * The range a request may read: `from` no earlier than the epoch, `to` no later than
 * `now + HISTORY_FUTURE_SLACK_MS`, both whole milliseconds. `from > to` afterwards means the range
 * holds nothing (e.g. a window wholly in the future).
 */
export function historyRange(from: number, to: number, now: number): { from: number; to: number } {
  return { from: Math.max(0, Math.floor(from)), to: Math.min(Math.floor(to), now + HISTORY_FUTURE_SLACK_MS) };
}

/**
 * The tier that answers a range: `auto` takes `tierFor(from, to)` (raw up to 2 hours, per-minute
 * up to 3 days, per-hour beyond). An explicit tier finer than that is coarsened to it, not refused:
 * raw over a day would read ~43,000 rows per series at one sample per 2 s only to be grouped down to
 * 2000 points, while the per-minute roll-up holds the same min/max/average for 1,440 rows. The
 * reply's `resolution` names the tier used. An explicit tier coarser than needed is kept.
 */
export function historyTier(requested: MetricsResolution, from: number, to: number): Tier {
  const fitting = tierFor(from, to);
  if (requested === 'auto') {
    return fitting;
  }
  return TIER_ORDER.indexOf(requested) < TIER_ORDER.indexOf(fitting) ? fitting : requested;
}

/**
 * Answers `metrics:history` with bounded work: the range clamped (`historyRange`), the tier chosen
 * from the span (`historyTier`), each distinct series read once and downsampled in SQL to at most
 * `maxPoints` points (default: MAX_POINTS_PER_SERIES, less when more than 16 series share
 * MAX_POINTS_PER_REQUEST), all series on the same grid (the step is taken from their common stored
 * extent). Between series it yields to the event loop, so one request with 64 series never holds
 * the gateway for more than one series' query (a few ms at the hour tier's default 365 days).
 * Throws AppError VALIDATION_FAILED when `to` is before `from`.
 */
export async function readMetricsHistory(
  metrics: Pick<MetricsRepository, 'extent' | 'points'>,
  request: MetricsHistoryRequest,
  now = Date.now(),
  maxPoints?: number,
): Promise<MetricsHistoryReply> {
  if (request.to < request.from) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, '`to` is before `from`');
  }
  const names = [...new Set(request.series)];
  const range = historyRange(request.from, request.to, now);
  const tier = historyTier(request.resolution, range.from, Math.max(range.from, range.to));
  // Entries, then fromEntries: a series named "__proto__" is a key like any other.
  const entries: [string, MetricsPoint[]][] = [];
  const extent = range.from > range.to ? null : metrics.extent(tier, names, range.from, range.to);
  if (extent === null) {
    return { resolution: tier, series: Object.fromEntries(names.map((name) => [name, []])) };
  }
  const step = downsampleStep(tier, extent.first, extent.last, maxPoints ?? historyPointsPerSeries(names.length));
  for (const [index, name] of names.entries()) {
    if (index > 0) {
      await yieldToEventLoop();
    }
    entries.push([name, metrics.points(tier, name, extent.first, extent.last, step)]);
  }
  return { resolution: tier, series: Object.fromEntries(entries) };
}
