import type { LogRecord } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { LogRepository } from '../repositories/log.repository.js';
import type { Broadcaster } from './broadcaster.js';

/**
 * Lines the gateway itself adds to the Logs page (intents, job outcomes, audit records): stored
 * like any other log line and broadcast as `logs:entry`.
 */
export class ActivityLog {
  private readonly logs: LogRepository;
  private readonly broadcaster: Broadcaster;
  private readonly nodeId: string;
  private readonly log: Logger;

  constructor(deps: { logs: LogRepository; broadcaster: Broadcaster; nodeId: string; logger: Logger }) {
    this.logs = deps.logs;
    this.broadcaster = deps.broadcaster;
    this.nodeId = deps.nodeId;
    this.log = deps.logger.child({ module: 'activity' });
  }

  /** Stores and broadcasts one line; `source` is `gateway` unless given. */
  async record(level: LogRecord['level'], message: string, modelId: string | null = null, source: LogRecord['source'] = 'gateway'): Promise<void> {
    const entries = this.logs.insert([{ ts: Date.now(), level, source, nodeId: this.nodeId, modelId, message }]);
    if (source === 'gateway') {
      this.log.info(message);
    }
    await this.broadcaster.broadcast('logs:entry', { entries });
  }
}
