import { createLogger, type Logger } from '@llamaproxy/shared/node';

export type { Logger };

export function createMetricsLogger(options: { level: string; format: 'json' | 'pretty' | undefined; nodeId: string }): Logger {
  return createLogger({ service: 'metrics', level: options.level, format: options.format, meta: { nodeId: options.nodeId } });
}
