import type { Redis } from 'ioredis';
import { RedisKeys, type PlacementSettings } from '@llamaproxy/shared';

/**
 * Raises a hash field to ARGV[2] unless it already holds a later time: replicas and late writes
 * never move a model's last use back.
 */
const RAISE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current == false or tonumber(current) == nil or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0`;

/**
 * The gateway's half of placement in Redis (the contract in shared/src/placement.ts): the settings
 * document handed to every supervisor (key, then a notice on the channel) and the last real `/v1`
 * request per model. Throws what ioredis throws when Redis cannot be reached.
 */
export class PlacementRedis {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  /** Writes the settings document (`placementSettingsKey`), then tells supervisors to reread it. */
  async shareSettings(settings: PlacementSettings): Promise<void> {
    const text = JSON.stringify(settings);
    await this.redis.set(RedisKeys.placementSettingsKey, text);
    await this.redis.publish(RedisKeys.placementSettingsChannel, text);
  }

  /** Records `atMs` (epoch ms) as `modelId`'s last use unless a later one is stored. True when it was written. */
  async raiseLastUsed(modelId: string, atMs: number): Promise<boolean> {
    const written = await this.redis.eval(RAISE_SCRIPT, 1, RedisKeys.placementLastUsed, modelId, String(Math.round(atMs)));
    return written === 1;
  }
}
