import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { NODE_MODELS_DIGEST_FIELD, NodeRedisKeys, RedisKeys, StatusEventSchema, type LlamaStatus, type ModelState, type StatusEvent } from '@llamaproxy/shared';
import { EventPublisher } from '../src/repositories/event-publisher.js';
import { digestOf } from '../src/services/model-digest.js';

function model(id: string, status: ModelState['status'] = 'unloaded', progress: number | null = null): ModelState {
  return { id, status, progress, stage: null, args: [], error: null, updatedAt: 1 };
}

const status = (nodeId: string): LlamaStatus => ({ nodeId, state: 'running', pid: 1, url: null, startedAt: 1, restarts: 0, nextRestartAt: null, lastExit: null, args: [], updatedAt: 1 });

/** The publisher against a real Redis: deltas on the stream, one hash field per model, the digest. */
describe(EventPublisher.name, () => {
  let redis: Redis;
  let nodeId: string;
  let sut: EventPublisher;

  beforeEach(() => {
    redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 3 });
    nodeId = `pub-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    sut = new EventPublisher(redis, nodeId, { flushMs: 20 });
  });
  afterEach(async () => {
    await redis.del(NodeRedisKeys.models(nodeId), RedisKeys.nodeSnapshot(nodeId), NodeRedisKeys.presence(nodeId));
    redis.disconnect();
  });

  /** This node's status events on the stream since `from`. */
  async function events(from: string): Promise<StatusEvent[]> {
    const entries = await redis.xrange(RedisKeys.statusStream, `(${from}`, '+');
    return entries
      .map(([, fields]) => StatusEventSchema.parse(JSON.parse(fields[1] ?? 'null')))
      .filter((e) => e.nodeId === nodeId);
  }
  const lastId = async (): Promise<string> => (await redis.xrevrange(RedisKeys.statusStream, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';

  it('publishes a burst of 2,000 new models as deltas whose digests chain, and one hash field per model', async () => {
    const from = await lastId();
    const states = Array.from({ length: 2000 }, (_, i) => model(`m-${i}`));
    states.forEach((s) => sut.modelChanged(s));
    await sut.flush();

    const published = (await events(from)).filter((e) => e.kind === 'model');
    expect(published).toHaveLength(2000);
    for (let i = 1; i < published.length; i++) {
      expect(published[i]?.kind === 'model' && published[i - 1]?.kind === 'model' && published[i]?.prevDigest === (published[i - 1] as { digest?: string }).digest).toBe(true);
    }
    const hash = await redis.hgetall(NodeRedisKeys.models(nodeId));
    expect(Object.keys(hash)).toHaveLength(2001);
    expect(hash[NODE_MODELS_DIGEST_FIELD]).toBe(digestOf(states));
    expect(JSON.parse(hash['m-7'] ?? 'null')).toEqual(states[7]);
  });

  it('collapses progress within one status, but publishes every status a model passes through', async () => {
    const from = await lastId();
    sut.modelChanged(model('a'));
    await sut.flush();
    sut.modelChanged(model('a', 'loading', 0.1));
    sut.modelChanged(model('a', 'loading', 0.2));
    sut.modelChanged(model('a', 'loading', 0.3));
    sut.modelChanged(model('a', 'loaded'));
    await sut.flush();

    const seen = (await events(from)).flatMap((e) => (e.kind === 'model' ? [`${e.model.status}${e.model.progress ?? ''}`] : []));
    expect(seen).toEqual(['unloaded', 'loading0.3', 'loaded']);
  });

  it('sends a heartbeat with the digest and count only, and writes the models hash again in full after a reconnect', async () => {
    sut.modelChanged(model('a', 'loaded'));
    sut.modelChanged(model('b'));
    sut.modelChanged(model('c'));
    sut.modelRemoved('c');
    await sut.flush();
    await redis.del(NodeRedisKeys.models(nodeId)); // Redis restarted without its data
    const from = await lastId();

    await sut.republish(status(nodeId), true);

    const beat = (await events(from)).find((e) => e.kind === 'state');
    expect(beat).toMatchObject({ kind: 'state', digest: digestOf([model('a', 'loaded'), model('b')]), modelCount: 2 });
    expect(JSON.stringify(beat)).not.toContain('"models"');
    const hash = await redis.hgetall(NodeRedisKeys.models(nodeId));
    expect(Object.keys(hash).sort()).toEqual([NODE_MODELS_DIGEST_FIELD, 'a', 'b'].sort());
  });

  it('keeps a presence key that expires, and removes it on a clean shutdown', async () => {
    await sut.refreshPresence('boot-1');
    const ttl = await redis.pttl(NodeRedisKeys.presence(nodeId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3000);
    await sut.clearPresence();
    expect(await redis.exists(NodeRedisKeys.presence(nodeId))).toBe(0);
  });
});
