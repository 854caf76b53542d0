import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisKeys, STREAM_FIELD } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { startRedis, waitFor, type RedisFixture } from '@llamaproxy/tests/harness';
import { StreamConsumer, type StreamEntry } from '../src/repositories/stream-consumer.js';

/** Acknowledged stream entries are trimmed; unacknowledged and recent ones stay. Real Redis. */
describe(StreamConsumer.name, () => {
  let redisFixture: RedisFixture;
  let redis: Redis;
  let stream: string;
  let sut: StreamConsumer | null = null;
  const logger = createLogger({ service: 'test', level: 'error', format: 'json' });

  beforeEach(async () => {
    redisFixture = await startRedis();
    redis = new Redis(redisFixture.url);
    stream = `test:trim:${Date.now()}:${Math.random()}`;
  });
  afterEach(async () => {
    await sut?.stop();
    sut = null;
    redis.disconnect();
    await redisFixture.stop();
  });

  /** Adds `count` entries with ids at `ms` milliseconds (explicit ids, so that age is known). */
  const add = async (ms: number, count: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      ids.push((await redis.xadd(stream, `${ms}-${i}`, STREAM_FIELD, JSON.stringify({ n: i }))) ?? '');
    }
    return ids;
  };

  it('trims what the group acknowledged and is older than keepMs, never what is pending or unread', async () => {
    const now = Date.now();
    await add(now - 600_000, 300);
    sut = new StreamConsumer(redis, [stream], 'c1', logger, { trimKeepMs: null });
    await sut.init();
    // A replica that read 100 entries and died before acknowledging them: they stay pending.
    await redis.xreadgroup('GROUP', RedisKeys.gatewayGroup, 'dead', 'COUNT', 100, 'STREAMS', stream, '>');
    expect(await sut.trimAcknowledged(60_000, now)).toEqual({ [stream]: 0 });
    expect(await redis.xlen(stream)).toBe(300);

    // This consumer stores and acknowledges the rest (and, after claimIdleMs, the dead one's).
    const stored: StreamEntry[] = [];
    sut = new StreamConsumer(redis, [stream], 'c1', logger, { trimKeepMs: null, claimIdleMs: 200 });
    sut.start((entries) => void stored.push(...entries));
    await waitFor(() => stored.length === 300, { timeoutMs: 10_000, what: 'all 300 entries stored' });
    await waitFor(async () => ((await redis.xpending(stream, RedisKeys.gatewayGroup)) as [number])[0] === 0, { timeoutMs: 10_000, what: 'nothing pending' });
    // New entries, not yet read: they stay, as do recent acknowledged ones.
    await sut.stop();
    sut = null;
    const recent = await add(now - 1_000, 5);
    const consumer = new StreamConsumer(redis, [stream], 'c1', logger, { trimKeepMs: null });
    const removed = await consumer.trimAcknowledged(60_000, now);
    expect(removed[stream]).toBeGreaterThan(0);
    const left = (await redis.xrange(stream, '-', '+')).map(([id]) => id);
    // XTRIM ~ removes whole radix-tree nodes: a few old ones may stay, every recent one does.
    expect(left.length).toBeLessThan(300);
    expect(left.slice(-5)).toEqual(recent);
  });

  it('trims on its own while it runs, keeping Redis to about keepMs of each stream', async () => {
    const now = Date.now();
    await add(now - 600_000, 1000);
    sut = new StreamConsumer(redis, [stream], 'c1', logger, { trimKeepMs: 60_000, trimIntervalMs: 50 });
    await sut.init();
    let stored = 0;
    sut.start((entries) => void (stored += entries.length));
    await waitFor(() => stored === 1000, { timeoutMs: 10_000, what: 'all entries stored' });
    await waitFor(async () => (await redis.xlen(stream)) < 200, { timeoutMs: 10_000, what: 'the stream trimmed' });
  });
});
