export * from './env.js';
export * from './logger.js';
export * from './lifecycle.js';
export * from './event-loop.js';
export * from './vitals.js';
export * from './forward-transport.js';
export * from './secret-env.js';
export * from './hf-hub.js';
