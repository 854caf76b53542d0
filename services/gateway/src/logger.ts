import { createLogger, type Logger } from '@llamaproxy/shared/node';

export type { Logger };

export function createGatewayLogger(options: { level: string; format: 'json' | 'pretty' | undefined; replicaId: string }): Logger {
  return createLogger({ service: 'gateway', level: options.level, format: options.format, meta: { replica: options.replicaId } });
}
