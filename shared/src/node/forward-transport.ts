import TransportStream from 'winston-transport';
import type { LogLevel } from '../logs.js';

export interface ForwardedLog {
  level: LogLevel;
  message: string;
  modelId: string | null;
}

/** Fields every line carries anyway; the rest of a line's metadata is appended as `key=value`. */
const IMPLICIT = new Set(['level', 'message', 'service', 'nodeId', 'replica', 'module', 'timestamp', 'stack', 'modelId']);
const LEVELS = new Set<string>(['error', 'warn', 'info', 'debug']);

/**
 * A winston transport that hands each line (at its level or worse) to `forward`, e.g. to the log
 * stream the gateway stores, so a service's own events show on the dashboard's Logs page.
 */
export class ForwardTransport extends TransportStream {
  private readonly forward: (log: ForwardedLog) => void;

  constructor(options: { level: string; forward: (log: ForwardedLog) => void }) {
    super({ level: options.level });
    this.forward = options.forward;
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    const level = typeof info.level === 'string' && LEVELS.has(info.level) ? (info.level as LogLevel) : 'info';
    const details = Object.entries(info)
      .filter(([key, value]) => !IMPLICIT.has(key) && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'))
      .map(([key, value]) => `${key}=${String(value)}`);
    const text = typeof info.message === 'string' ? info.message : String(info.message);
    this.forward({
      level,
      message: details.length > 0 ? `${text} (${details.join(', ')})` : text,
      modelId: typeof info.modelId === 'string' ? info.modelId : null,
    });
    next();
  }
}
