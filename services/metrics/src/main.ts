import { runService } from '@llamaproxy/shared/node';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { createMetricsLogger } from './logger.js';

runService({
  service: 'metrics',
  shutdownDeadlineMs: 10_000,
  create: () => {
    const config = loadConfig();
    const logger = createMetricsLogger({ ...config.log, nodeId: config.nodeId });
    return { app: createApp(config, logger), logger };
  },
});
