import type { LogRepository } from '../repositories/log.repository.js';
import type { Broadcaster } from '../services/broadcaster.js';
import type { DomainHandlers } from './request-context.js';

/** The stored log: query and clear. */
export function createLogHandlers(deps: { logs: LogRepository; broadcaster: Broadcaster }): DomainHandlers<'logs:query' | 'logs:clear'> {
  const { logs, broadcaster } = deps;
  return {
    'logs:query': async (q) => logs.query(q),
    'logs:clear': async () => {
      const cleared = logs.clear();
      await broadcaster.broadcast('logs:cleared', { cleared });
      return { cleared };
    },
  };
}
