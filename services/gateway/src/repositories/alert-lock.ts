import type { Redis } from 'ioredis';

/** Renews the lock only when this holder still has it (compare and set, atomically). */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * The lease that makes one gateway replica the alert evaluator: a Redis key holding the replica's
 * id with a TTL, taken with SET NX and renewed by its holder on each evaluation. A replica that
 * dies loses it after the TTL and another takes over (its state is in SQLite).
 */
export class AlertLock {
  private readonly redis: Redis;
  private readonly key: string;
  private readonly holder: string;
  private readonly ttlMs: number;

  constructor(redis: Redis, key: string, holder: string, ttlMs: number) {
    this.redis = redis;
    this.key = key;
    this.holder = holder;
    this.ttlMs = ttlMs;
  }

  /** True when this replica holds the lease now (taken or renewed). False when Redis cannot be asked. */
  async acquire(): Promise<boolean> {
    try {
      const renewed = (await this.redis.eval(RENEW, 1, this.key, this.holder, String(this.ttlMs))) as number;
      if (renewed === 1) {
        return true;
      }
      return (await this.redis.set(this.key, this.holder, 'PX', this.ttlMs, 'NX')) === 'OK';
    } catch {
      return false;
    }
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.holder).catch(() => undefined);
  }
}
