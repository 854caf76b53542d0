import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisKeys } from '@llamaproxy/shared';
import { expectOk, freePort, publishToStream, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';
import { logRecords, sample } from './fixtures.js';

/**
 * Two gateway replicas share one Redis and one database file: every reported line is stored
 * exactly once, and every client, whichever replica it is connected to, receives every broadcast
 * exactly once.
 */
describe('gateway replicas', () => {
  const redisUrl = `${inject('redisUrl')}/4`;
  const nodeId = 'replica-node';
  let dir: string;
  let redis: Redis;
  const replicas: { proc: ManagedProcess; port: number }[] = [];
  const clients: TestClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-replicas-'));
    redis = new Redis(redisUrl);
    await redis.flushdb();
    for (const name of ['replica-a', 'replica-b']) {
      const port = await freePort();
      const proc = startService('gateway', {
        AUTH_MODE: 'none',
        REDIS_URL: redisUrl,
        DATA_DIR: dir,
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_REPLICA_ID: name,
        SUPERVISOR_NODE_ID: nodeId,
      });
      replicas.push({ proc, port });
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, { timeoutMs: 30_000, what: `${name} ready` });
    }
    for (const { port } of replicas) {
      for (let i = 0; i < 2; i++) {
        clients.push(await TestClient.connect(`http://127.0.0.1:${port}`));
      }
    }
  });

  afterAll(async () => {
    for (const c of clients) {
      c.close();
    }
    await Promise.all(replicas.map((r) => r.proc.stop()));
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores every log line once and delivers every broadcast once to every client', async () => {
    const batches = 40;
    const perBatch = 5;
    for (let b = 0; b < batches; b++) {
      await publishToStream(redis, RedisKeys.logStream, { records: logRecords(nodeId, perBatch, `batch-${b}`) });
    }
    const total = batches * perBatch;
    const ownLines = (client: TestClient) =>
      client.broadcasts('logs:entry').flatMap((e) => e.data.entries).filter((e) => e.nodeId === nodeId);

    for (const client of clients) {
      await waitFor(() => ownLines(client).length >= total, { timeoutMs: 30_000, what: `${total} lines on every client` });
    }
    // The consumer group hands each stream entry to one replica...
    const stored = expectOk(await clients[0]!.request('logs:query', { limit: 5000 }));
    const rows = stored.entries.filter((e) => e.nodeId === nodeId);
    // ...and every line is stored exactly once.
    expect(rows).toHaveLength(total);
    expect(new Set(rows.map((r) => r.message)).size).toBe(total);
    for (const client of clients) {
      const lines = ownLines(client);
      expect(lines).toHaveLength(total);
      expect(new Set(lines.map((l) => l.id)).size).toBe(total);
      // Broadcast envelopes are never duplicated either.
      const seqs = client.received.filter((r) => r.event !== 'snapshot').map((r) => (r.payload as { seq: number }).seq);
      expect(new Set(seqs).size).toBe(seqs.length);
    }
  });

  it('stores each metrics sample once', async () => {
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 20; i++) {
      await publishToStream(redis, RedisKeys.metricsStream, { sample: sample(nodeId, t0 + i * 1000, i) });
    }
    for (const client of clients) {
      await client.waitForBroadcast('metrics:update', (e) => e.data.sample.ts === t0 + 19_000, { timeoutMs: 30_000 });
    }
    const history = await clients[1]!.request('metrics:history', { from: t0, to: t0 + 20_000, series: ['cpu.usagePct'], resolution: 'raw' });
    expect(expectOk(history).series['cpu.usagePct']?.map((p) => p.avg)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const minute = await clients[1]!.request('metrics:history', { from: t0, to: t0 + 20_000, series: ['cpu.usagePct'], resolution: 'minute' });
    const counted = expectOk(minute).series['cpu.usagePct'] ?? [];
    expect(counted.length).toBeGreaterThan(0);
    // Roll-ups would double-count a sample stored twice: min/max/avg over 0..19 must be exact.
    expect(Math.min(...counted.map((p) => p.min))).toBe(0);
    expect(Math.max(...counted.map((p) => p.max))).toBe(19);
  });
});
