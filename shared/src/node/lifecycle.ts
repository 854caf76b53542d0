import { watchEventLoop } from './event-loop.js';
import { errorMeta, type Logger } from './logger.js';
import { logVitals, vitalsIntervalMs } from './vitals.js';

export interface ServiceApp {
  start(): Promise<void>;
  /** Closes in reverse order of opening; gets the time left before the hard deadline. */
  shutdown(deadlineMs: number): Promise<void>;
}

export interface RunServiceOptions {
  service: string;
  /** Loads the config and composes the app; a thrown ConfigError names the bad keys. */
  create(): { app: ServiceApp; logger: Logger };
  /** After this long a stuck shutdown exits with code 1. */
  shutdownDeadlineMs: number;
}

/**
 * The entry point every service shares: compose, start, and one idempotent shutdown for SIGTERM
 * and SIGINT with a hard deadline. A failure to start exits with code 1 and one JSON line.
 * Once started, an event-loop watchdog logs `event loop stalled` (warn) for any delay over 100 ms,
 * and with `VITALS_INTERVAL_MS` set (off by default) a `vitals` info line (heap, active handles)
 * is logged that often, for soak runs.
 */
export function runService(options: RunServiceOptions): void {
  const bootstrap = async (): Promise<void> => {
    const { app, logger } = options.create();
    const vitalsMs = vitalsIntervalMs(options.service);
    let stopping: Promise<void> | null = null;
    let stopWatchdog: (() => void) | null = null;
    let stopVitals: (() => void) | null = null;
    const shutdown = (signal: string): Promise<void> => {
      stopping ??= (async () => {
        logger.info('shutting down', { signal });
        stopWatchdog?.();
        stopVitals?.();
        const hard = setTimeout(() => {
          logger.error('shutdown deadline passed; exiting');
          process.exit(1);
        }, options.shutdownDeadlineMs);
        try {
          await app.shutdown(options.shutdownDeadlineMs - 1000);
          logger.info('stopped');
          process.exit(0);
        } catch (err) {
          logger.error('shutdown failed', errorMeta(err));
          process.exit(1);
        } finally {
          clearTimeout(hard);
        }
      })();
      return stopping;
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
    await app.start();
    if (stopping === null) {
      stopWatchdog = watchEventLoop(logger.child({ module: 'event-loop' }));
      if (vitalsMs > 0) {
        stopVitals = logVitals(logger.child({ module: 'vitals' }), vitalsMs);
      }
    }
  };
  bootstrap().catch((err: unknown) => {
    console.error(JSON.stringify({ level: 'error', service: options.service, message: 'failed to start', ...errorMeta(err) }));
    process.exit(1);
  });
}
