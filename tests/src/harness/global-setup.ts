import type { TestProject } from 'vitest/node';
import { ensureLlamaServer } from './llama-server-binary.js';
import { startRedis } from './redis.js';
import './provided.js';

/** Starts the real dependencies once per integration run and stops them afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await startRedis();
  const bin = await ensureLlamaServer((line) => console.log(`[llama-server] ${line}`));
  project.provide('redisUrl', redis.url);
  project.provide('llamaServerBin', bin);
  return async () => {
    await redis.stop();
  };
}
