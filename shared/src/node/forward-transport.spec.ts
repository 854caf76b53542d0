import { describe, expect, it } from 'vitest';
import { ForwardTransport, type ForwardedLog } from './forward-transport.js';
import { createLogger } from './logger.js';

describe(ForwardTransport.name, () => {
  it('forwards lines at its level or worse, with their details as key=value', async () => {
    const forwarded: ForwardedLog[] = [];
    const sut = new ForwardTransport({ level: 'info', forward: (log) => forwarded.push(log) });
    const logger = createLogger({ service: 'test', level: 'debug', format: 'json' });
    logger.clear().add(sut);
    logger.child({ module: 'm' }).info('job done', { job: 'model.load', ms: 394, nested: { ignored: true } });
    logger.warn('model failed', { modelId: 'tiny' });
    logger.debug('too chatty');
    await new Promise((r) => setImmediate(r));
    expect(forwarded).toEqual([
      { level: 'info', message: 'job done (job=model.load, ms=394)', modelId: null },
      { level: 'warn', message: 'model failed', modelId: 'tiny' },
    ]);
  });
});
