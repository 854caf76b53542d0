import { errorMeta } from '@llamaproxy/shared/node';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { createGatewayLogger } from './logger.js';

const SHUTDOWN_DEADLINE_MS = 15_000;

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createGatewayLogger({ ...config.log, replicaId: config.replicaId });
  const app = createApp(config, logger);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    logger.info('shutting down', { signal });
    const hard = setTimeout(() => {
      logger.error('shutdown deadline passed; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    app
      .shutdown()
      .then(() => {
        clearTimeout(hard);
        logger.info('stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error('shutdown failed', errorMeta(err));
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  await app.start();
}

bootstrap().catch((err: unknown) => {
  console.error(JSON.stringify({ level: 'error', service: 'gateway', message: 'failed to start', ...errorMeta(err) }));
  process.exit(1);
});
