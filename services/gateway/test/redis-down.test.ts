import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys } from '@llamaproxy/shared';
import { expectOk, freePort, ManagedProcess, publishToStream, startService, TestClient, waitFor } from '@llamaproxy/tests/harness';
import { catalogue } from './fixtures.js';

/** Redis goes away under a running gateway: requests get a clear error at once, never a hang. */
describe('gateway without Redis', () => {
  let dir: string;
  let redisServer: ManagedProcess;
  let gateway: ManagedProcess;
  let client: TestClient;
  let port: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-redis-down-'));
    const redisPort = await freePort();
    // A Redis of this test's own, since the test stops it.
    redisServer = new ManagedProcess('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { name: 'redis' });
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    const redis = new Redis(redisUrl, { lazyConnect: true });
    redis.on('error', () => undefined);
    await waitFor(async () => {
      await redis.connect().catch(() => undefined);
      return (await redis.ping()) === 'PONG';
    }, { what: 'redis' });
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId: 'n1', catalogue: catalogue('n1', ['alpha']) });
    redis.disconnect();
    port = await freePort();
    gateway = startService('gateway', { AUTH_MODE: 'none', REDIS_URL: redisUrl, DATA_DIR: dir, GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', SUPERVISOR_NODE_ID: 'n1' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 30_000, what: 'gateway ready' });
    client = await TestClient.connect(`http://127.0.0.1:${port}`);
    await waitFor(async () => {
      const r = await client.request('models:list', {});
      return r.success && r.data.models.length === 1;
    }, { what: 'catalogue ingested' });
  });

  afterAll(async () => {
    client?.close();
    await gateway?.stop();
    await redisServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers QUEUE_UNAVAILABLE at once, keeps serving reads from SQLite, and reports not ready', async () => {
    await redisServer.stop();
    // The request's own 5 s ack timeout is the "never a hang" bound.
    const response = await client.request('models:load', { modelId: 'alpha' }, 5000);
    expect(response).toMatchObject({ success: false, error: { code: 'QUEUE_UNAVAILABLE' } });
    const list = await client.request('models:list', {});
    expect(expectOk(list).models.map((m) => m.id)).toEqual(['alpha']);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ redis: false, database: true });
  });
});
