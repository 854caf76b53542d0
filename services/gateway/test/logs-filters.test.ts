import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisKeys, type LogRecord } from '@llamaproxy/shared';
import { expectError, expectOk, freePort, publishToStream, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

/** `logs:query` by node and time range through a real gateway: lines arrive on the log stream as a supervisor sends them. */
describe('logs:query by node and time range', () => {
  const redisUrl = `${inject('redisUrl')}/12`;
  let dir: string;
  let gateway: ManagedProcess;
  let client: TestClient;
  const t0 = Date.now() - 3_600_000;
  const line = (nodeId: string, minute: number): LogRecord => ({
    ts: t0 + minute * 60_000,
    level: minute % 10 === 0 ? 'error' : 'info',
    source: 'llama-server',
    nodeId,
    modelId: null,
    message: `${nodeId} minute ${minute}`,
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-logs-filters-'));
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    const port = await freePort();
    gateway = startService('gateway', { REDIS_URL: redisUrl, AUTH_MODE: 'none', DATA_DIR: join(dir, 'gateway'), GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: 'gateway ready' });
    for (let minute = 0; minute < 60; minute += 10) {
      const batch = Array.from({ length: 10 }, (_, i) => [line('node-a', minute + i), line('node-b', minute + i)]).flat();
      await publishToStream(redis, RedisKeys.logStream, { records: batch });
    }
    redis.disconnect();
    client = await TestClient.connect(`http://127.0.0.1:${port}`);
    await waitFor(async () => expectOk(await client.request('logs:query', { text: 'minute 59', limit: 5 })).entries.length === 2, {
      timeoutMs: 20_000,
      what: 'the lines stored',
    });
  });
  afterAll(async () => {
    client?.close();
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps one node, a time range, and both with a level, newest first', async () => {
    const messages = async (q: Record<string, unknown>): Promise<string[]> => expectOk(await client.request('logs:query', { limit: 100, ...q })).entries.map((e) => e.message);
    expect(await messages({ nodeId: 'node-b', text: 'minute 5' })).toEqual(['node-b minute 59', 'node-b minute 58', 'node-b minute 57', 'node-b minute 56', 'node-b minute 55', 'node-b minute 54', 'node-b minute 53', 'node-b minute 52', 'node-b minute 51', 'node-b minute 50', 'node-b minute 5']);
    const range = await messages({ from: t0 + 20 * 60_000, to: t0 + 22 * 60_000 });
    expect([...range].sort()).toEqual(['node-a minute 20', 'node-a minute 21', 'node-a minute 22', 'node-b minute 20', 'node-b minute 21', 'node-b minute 22']);
    expect(await messages({ nodeId: 'node-a', level: 'error', from: t0 + 15 * 60_000, to: t0 + 45 * 60_000 })).toEqual(['node-a minute 40', 'node-a minute 30', 'node-a minute 20']);
    expect(await messages({ nodeId: 'node-x' })).toEqual([]);
  });

  it('refuses a negative time with a validation error', async () => {
    expectError(await client.request('logs:query', { from: -1, limit: 10 }), 'VALIDATION_FAILED');
  });
});
