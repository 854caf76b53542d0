import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
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
      // Its own process group: a Ctrl+C in the terminal (npm run dev) reaches the services, which
      // stop while Redis still answers; Redis is stopped last, by `stop()` (or at exit).
      { name: 'redis-server', detached: true },
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

/**
 * A private `redis-server` that a test can stop and start again on the same port with the same
 * data directory and append-only file, as an operator's restart (or a crash) would: what was
 * acknowledged before the stop is there again after the start (`appendfsync always`).
 */
export class RestartableRedis {
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  private proc: ManagedProcess | null = null;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(dir = mkdtempSync(join(tmpdir(), 'llamaproxy-redis-'))): Promise<RestartableRedis> {
    const redis = new RestartableRedis(await freePort(), dir);
    await redis.start();
    return redis;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  /** Starts redis-server (again) on this port and data directory; resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.running) {
      return;
    }
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction'];
    mkdirSync(this.dir, { recursive: true });
    const proc = new ManagedProcess('redis-server', args, { name: `redis-server:${this.port}` });
    this.proc = proc;
    try {
      await waitFor(() => {
        if (!proc.running) {
          throw new Error(`redis-server exited (${proc.exitCode ?? proc.exitSignal})`);
        }
        return ping(this.url);
      }, { timeoutMs: 10_000, what: `redis-server on port ${this.port} to answer PING` });
    } catch (err) {
      await proc.stop();
      throw new Error(`${(err as Error).message}\n${proc.tail()}`);
    }
  }

  /** Stops it: SIGTERM (a clean shutdown) or SIGKILL (a crash; the AOF keeps every acknowledged write). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc === null || !proc.running) {
      return;
    }
    if (signal === 'SIGKILL') {
      proc.kill('SIGKILL');
      await proc.exited;
    } else {
      await proc.stop();
    }
  }

  /** Stops it and removes its data directory. */
  async dispose(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
