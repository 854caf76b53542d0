import { runService } from '@llamaproxy/shared/node';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { createGatewayLogger } from './logger.js';

runService({
  service: 'gateway',
  shutdownDeadlineMs: 15_000,
  create: () => {
    const config = loadConfig();
    const logger = createGatewayLogger({ ...config.log, replicaId: config.replicaId });
    return { app: createApp(config, logger), logger };
  },
});
