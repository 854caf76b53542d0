import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { ManagedProcess } from './process.js';
import { waitFor } from './wait-for.js';

export interface RedisFixture {
  url: string;
  /** How this Redis was obtained. */
  source: 'env' | 'binary' | 'testcontainers';
  stop(): Promise<void>;
}

function hasBinary(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

async function ping(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    client.disconnect();
  }
}

/**
 * A Redis for one test run: REDIS_URL when set; otherwise a private `redis-server` on a free
 * port (no persistence, removed afterwards); otherwise, where a Docker engine runs, a
 * testcontainers Redis (the `testcontainers` package must then be installed).
 */
export async function startRedis(): Promise<RedisFixture> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    await waitFor(() => ping(fromEnv), { timeoutMs: 5000, what: `Redis at ${fromEnv}` });
    return { url: fromEnv, source: 'env', stop: async () => {} };
  }
  if (hasBinary('redis-server')) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-redis-'));
    const proc = new ManagedProcess(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction'],
      { name: 'redis-server' },
    );
    const url = `redis://127.0.0.1:${port}`;
    try {
      await waitFor(() => ping(url), { timeoutMs: 10_000, what: 'redis-server to answer PING' });
    } catch (err) {
      await proc.stop();
      throw new Error(`redis-server did not start: ${(err as Error).message}\n${proc.tail()}`);
    }
    return {
      url,
      source: 'binary',
      stop: async () => {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (hasBinary('docker') && spawnSync('docker', ['info'], { stdio: 'ignore' }).status === 0) {
    const moduleName = 'testcontainers';
    let tc: { GenericContainer: new (image: string) => TestContainer };
    try {
      tc = (await import(moduleName)) as typeof tc;
    } catch {
      throw new Error('no redis-server binary; a Docker engine is present but the "testcontainers" package is not installed (npm i -D testcontainers)');
    }
    const container = await new tc.GenericContainer('redis:7.4-alpine').withExposedPorts(6379).start();
    const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
    return { url, source: 'testcontainers', stop: async () => void (await container.stop()) };
  }
  throw new Error('no Redis: set REDIS_URL, or install redis-server (Debian: apt-get install -y redis-server)');
}

interface StartedContainer {
  getHost(): string;
  getMappedPort(port: number): number;
  stop(): Promise<unknown>;
}
interface TestContainer {
  withExposedPorts(...ports: number[]): TestContainer;
  start(): Promise<StartedContainer>;
}
