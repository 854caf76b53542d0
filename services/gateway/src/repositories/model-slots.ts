import { createHash, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** One admitted request's place; `release` once it has ended (a second call does nothing). */
export interface ModelSlot {
  release(): void;
}

/** How long a place is held without renewal: a replica that dies frees its places after this. */
export const SLOT_LEASE_MS = 30_000;
/** Places are renewed this often while their requests run. */
const RENEW_MS = 10_000;

/**
 * Atomically: drop expired places of the model, and take one when fewer than the limit are held.
 * Returns [taken (1|0), places held now].
 */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[2]) then return {0, held} end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {1, held + 1}
`;
/** ACQUIRE's SHA-1, for EVALSHA (the script's text goes to Redis only when Redis does not know it yet). */
const ACQUIRE_SHA = createHash('sha1').update(ACQUIRE).digest('hex');

/**
 * The per-model concurrency cap (API_MODEL_CONCURRENCY requests waiting and running), counted
 * across every gateway replica: each place is a member of a Redis sorted set per model, scored by
 * its lease's expiry, taken by one Lua script (check and take at once) and renewed while its
 * request runs, so a replica that dies without releasing frees its places within SLOT_LEASE_MS.
 * While Redis is not ready the cap counts on this replica alone (as the key rate limits do), so
 * the endpoint keeps serving.
 */
export class ModelSlots {
  private readonly redis: Pick<Redis, 'status' | 'eval' | 'evalsha' | 'zrem' | 'zadd'>;
  private readonly limit: number;
  private readonly prefix: string;
  private readonly now: () => number;
  /** Places held through Redis by this replica: member → model. */
  private readonly leased = new Map<string, string>();
  /** Places counted here while Redis was away, per model. */
  private readonly local = new Map<string, number>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(redis: Pick<Redis, 'status' | 'eval' | 'evalsha' | 'zrem' | 'zadd'>, limit: number, options: { prefix?: string; now?: () => number } = {}) {
    this.redis = redis;
    this.limit = limit;
    this.prefix = options.prefix ?? 'llamaproxy:api:model-slots:';
    this.now = options.now ?? Date.now;
  }

  /** A place for one request to `model`, or `{ held }` (how many are taken) when the cap is reached. */
  async acquire(model: string): Promise<ModelSlot | { held: number }> {
    if (this.redis.status === 'ready') {
      try {
        return await this.acquireShared(model);
      } catch {
        // Redis went away during the call: count here, as while it is away.
      }
    }
    return this.acquireLocal(model);
  }

  /** Places this replica holds for `model` now (through Redis and locally). */
  heldHere(model: string): number {
    let n = this.local.get(model) ?? 0;
    for (const m of this.leased.values()) {
      n += m === model ? 1 : 0;
    }
    return n;
  }

  /** Stops renewing (at shutdown); places still held expire with their lease. */
  close(): void {
    if (this.renewTimer !== null) {
      clearInterval(this.renewTimer);
      this.renewTimer = null;
    }
  }

  private async acquireShared(model: string): Promise<ModelSlot | { held: number }> {
    const member = randomUUID();
    const now = this.now();
    const args = [this.key(model), now, this.limit, now + SLOT_LEASE_MS, member, SLOT_LEASE_MS * 2] as const;
    const [taken, held] = (await this.redis.evalsha(ACQUIRE_SHA, 1, ...args).catch((err: unknown) => {
      // NOSCRIPT: Redis restarted or flushed its script cache; EVAL loads the script again.
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return this.redis.eval(ACQUIRE, 1, ...args);
      }
      throw err;
    })) as [number, number];
    if (taken !== 1) {
      return { held };
    }
    this.leased.set(member, model);
    this.renewLater();
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        this.leased.delete(member);
        // A failed removal is left to the lease's expiry.
        void this.redis.zrem(this.key(model), member).catch(() => undefined);
      },
    };
  }

  private acquireLocal(model: string): ModelSlot | { held: number } {
    const held = this.local.get(model) ?? 0;
    if (held >= this.limit) {
      return { held };
    }
    this.local.set(model, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        const n = (this.local.get(model) ?? 1) - 1;
        if (n <= 0) {
          this.local.delete(model);
        } else {
          this.local.set(model, n);
        }
      },
    };
  }

  /** Renews every place held through Redis every RENEW_MS while any is held. */
  private renewLater(): void {
    if (this.renewTimer !== null) {
      return;
    }
    this.renewTimer = setInterval(() => {
      if (this.leased.size === 0) {
        this.close();
        return;
      }
      const expiry = this.now() + SLOT_LEASE_MS;
      for (const [member, model] of this.leased) {
        // XX: only a place still held is renewed (one released meanwhile stays gone).
        void this.redis.zadd(this.key(model), 'XX', expiry, member).catch(() => undefined);
      }
    }, RENEW_MS);
    this.renewTimer.unref();
  }

  private key(model: string): string {
    return `${this.prefix}${model}`;
  }
}
