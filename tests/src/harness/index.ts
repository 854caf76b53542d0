export * from './llama-server-binary.js';
export * from './llama-server.js';
export * from './ports.js';
export * from './process.js';
export * from './redis.js';
export * from './wait-for.js';
