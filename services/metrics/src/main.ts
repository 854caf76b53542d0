import { errorMeta } from '@llamaproxy/shared/node';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { createMetricsLogger } from './logger.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createMetricsLogger({ ...config.log, nodeId: config.nodeId });
  const app = createApp(config, logger);

  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info('shutting down', { signal });
      const hard = setTimeout(() => {
        logger.error('shutdown deadline passed; exiting');
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS);
      try {
        await app.shutdown(SHUTDOWN_DEADLINE_MS - 1000);
      } finally {
        clearTimeout(hard);
      }
      logger.info('stopped');
      process.exit(0);
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.start();
}

bootstrap().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'metrics', message: 'failed to start', ...errorMeta(err) }));
  process.exit(1);
});
