import winston from 'winston';

export type Logger = winston.Logger;

export interface LoggerOptions {
  service: string;
  level?: string;
  /** `json` for machines (default in production), `pretty` for a terminal. */
  format?: 'json' | 'pretty';
  /** Extra fields on every line, e.g. { nodeId }. */
  meta?: Record<string, unknown>;
}

/**
 * The winston root logger of a service. Modules take `logger.child({ module })`.
 * Keep messages short and stable; never log prompts or secrets at info.
 */
export function createLogger(options: LoggerOptions): Logger {
  const pretty = (options.format ?? (process.env.NODE_ENV === 'production' ? 'json' : 'pretty')) === 'pretty';
  const format = pretty
    ? winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.errors({ stack: true }),
        winston.format.printf((info) => {
          const { timestamp, level, message, service, module, stack, ...rest } = info;
          const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
          const where = typeof module === 'string' ? `${String(service)}/${module}` : String(service);
          return `${String(timestamp)} ${level.padEnd(5)} [${where}] ${String(message)}${extra}${typeof stack === 'string' ? `\n${stack}` : ''}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json());
  return winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { service: options.service, ...options.meta },
    format,
    transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug'] })],
  });
}

/** Error fields for a log line without dumping whole objects. */
export function errorMeta(err: unknown): { error: string; stack?: string } {
  if (err instanceof Error) {
    return { error: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { error: String(err) };
}
