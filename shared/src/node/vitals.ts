import { z } from 'zod';
import { envInt, parseEnv } from './env.js';
import type { Logger } from './logger.js';

/** One `vitals` line: what a soak run compares between its start and its end. */
export interface Vitals {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** `process.getActiveResourcesInfo().length`: timers, sockets, handles keeping the loop busy (the vitals timer included). */
  activeResources: number;
  /** The same, by kind (`TCPSocketWrap`, `Timeout`, `FSReqCallback`, ...). */
  resourceKinds: Record<string, number>;
}

export function readVitals(): Vitals {
  const memory = process.memoryUsage();
  const resources = process.getActiveResourcesInfo();
  const resourceKinds: Record<string, number> = {};
  for (const kind of resources) {
    resourceKinds[kind] = (resourceKinds[kind] ?? 0) + 1;
  }
  return {
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
    activeResources: resources.length,
    resourceKinds,
  };
}

/** `VITALS_INTERVAL_MS` (0 or unset: off), checked like any other key: a bad value names it. */
export function vitalsIntervalMs(service: string, env: NodeJS.ProcessEnv = process.env): number {
  return parseEnv(service, z.object({ VITALS_INTERVAL_MS: envInt(0, 0, 3_600_000) }), env).VITALS_INTERVAL_MS;
}

/**
 * Logs one info line `vitals` (see `Vitals`) now and every `intervalMs`, for soak runs that look
 * for growth in heap or handles over time. The timer is unref'd. Returns an idempotent stop.
 */
export function logVitals(logger: Logger, intervalMs: number): () => void {
  const log = (): void => {
    logger.info('vitals', readVitals());
  };
  log();
  const timer = setInterval(log, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
