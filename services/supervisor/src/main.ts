import { runService } from '@llamaproxy/shared/node';
import { createApp } from './app.js';
import { loadConfig } from './config.js';
import { createSupervisorLogger } from './logger.js';

runService({
  service: 'supervisor',
  // Long enough for llama-server's own grace period (LLAMA_STOP_GRACE_MS) and the last logs.
  shutdownDeadlineMs: 30_000,
  create: () => {
    const config = loadConfig();
    const logger = createSupervisorLogger({ ...config.log, nodeId: config.nodeId });
    return { app: createApp(config, logger), logger };
  },
});
