export * from './env.js';
export * from './logger.js';
export * from './lifecycle.js';
export * from './forward-transport.js';
