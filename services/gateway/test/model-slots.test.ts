import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ModelSlots, SLOT_LEASE_MS, type ModelSlot } from '../src/repositories/model-slots.js';

/**
 * The per-model concurrency cap across gateway replicas, on a real Redis: two ModelSlots on one
 * Redis stand for two replicas (each with its own client, as each gateway process has).
 */
describe(ModelSlots.name, () => {
  const url = `${inject('redisUrl')}/13`;
  let a: Redis;
  let b: Redis;

  beforeAll(async () => {
    a = new Redis(url);
    b = new Redis(url);
    await Promise.all([a.ping(), b.ping()]);
  });
  afterAll(() => {
    a?.disconnect();
    b?.disconnect();
  });

  const taken = (slot: ModelSlot | { held: number }): ModelSlot => {
    expect('release' in slot, `a place should have been taken, got ${JSON.stringify(slot)}`).toBe(true);
    return slot as ModelSlot;
  };

  it('counts the places of a model across replicas, and frees one on release', async () => {
    const prefix = `test:slots:${randomUUID()}:`;
    const replicaA = new ModelSlots(a, 2, { prefix });
    const replicaB = new ModelSlots(b, 2, { prefix });
    const first = taken(await replicaA.acquire('m'));
    taken(await replicaB.acquire('m'));
    expect(await replicaA.acquire('m')).toEqual({ held: 2 });
    expect(await replicaB.acquire('m')).toEqual({ held: 2 });
    // Another model has places of its own.
    taken(await replicaB.acquire('other'));
    first.release();
    first.release();
    await expect.poll(async () => 'release' in (await replicaB.acquire('m')), { timeout: 5000 }).toBe(true);
    expect(await replicaA.acquire('m')).toEqual({ held: 2 });
    replicaA.close();
    replicaB.close();
  });

  it('frees the places of a replica that stopped renewing once their lease ran out', async () => {
    const prefix = `test:slots:${randomUUID()}:`;
    // Its clock is a lease behind: its place expired as a dead replica's would.
    const dead = new ModelSlots(a, 1, { prefix, now: () => Date.now() - SLOT_LEASE_MS - 1000 });
    taken(await dead.acquire('m'));
    const alive = new ModelSlots(b, 1, { prefix });
    taken(await alive.acquire('m'));
    expect(await alive.acquire('m')).toEqual({ held: 1 });
    dead.close();
    alive.close();
  });

  it('still takes and counts places through Redis after Redis forgot its scripts', async () => {
    const prefix = `test:slots:${randomUUID()}:`;
    const sut = new ModelSlots(a, 1, { prefix });
    const first = taken(await sut.acquire('m'));
    // As after a Redis restart: EVALSHA answers NOSCRIPT, and the place is taken with the script's text.
    await a.script('FLUSH');
    expect(await sut.acquire('m')).toEqual({ held: 1 });
    first.release();
    await expect.poll(async () => 'release' in (await sut.acquire('m')), { timeout: 5000 }).toBe(true);
    expect(await b.zcard(`${prefix}m`)).toBe(1);
    sut.close();
  });

  it('counts on this replica alone while Redis is not there', async () => {
    const away = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false });
    const sut = new ModelSlots(away, 1);
    const slot = taken(await sut.acquire('m'));
    expect(await sut.acquire('m')).toEqual({ held: 1 });
    expect(sut.heldHere('m')).toBe(1);
    slot.release();
    taken(await sut.acquire('m'));
    away.disconnect();
  });
});
