import type { Redis } from 'ioredis';
import { DEFAULT_PLACEMENT_SETTINGS, PlacementSettingsSchema, RedisKeys, type PlacementSettings } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

/**
 * What placement reads from Redis: the settings the gateway stores (`placementSettingsKey`, with
 * a notice on `placementSettingsChannel`) and the last real request per model (`placementLastUsed`).
 */
export class PlacementRedis {
  private readonly redis: Redis;
  private readonly log: Logger;
  private subscriber: Redis | null = null;

  constructor(redis: Redis, logger: Logger) {
    this.redis = redis;
    this.log = logger.child({ module: 'placement-redis' });
  }

  /** The current settings; the defaults when none are stored or they do not parse (logged). */
  async readSettings(): Promise<PlacementSettings> {
    const text = await this.redis.get(RedisKeys.placementSettingsKey);
    if (text === null) {
      return DEFAULT_PLACEMENT_SETTINGS;
    }
    const parsed = PlacementSettingsSchema.safeParse(safeJson(text));
    if (!parsed.success) {
      this.log.warn('ignoring placement settings that do not parse', { error: parsed.error.issues[0]?.message ?? 'invalid' });
      return DEFAULT_PLACEMENT_SETTINGS;
    }
    return parsed.data;
  }

  /**
   * Calls `onChange` with the settings after every notice (and once subscribed, to close the gap).
   * `stored` is false while Redis holds no document yet (a fresh Redis before the gateway shared
   * its stored settings): the settings are then the defaults, not the gateway's.
   */
  async watchSettings(onChange: (settings: PlacementSettings, stored: boolean) => void): Promise<void> {
    const subscriber = this.redis.duplicate();
    subscriber.on('error', (err) => this.log.debug('placement subscriber error', { error: err.message }));
    this.subscriber = subscriber;
    subscriber.on('message', (channel) => {
      if (channel === RedisKeys.placementSettingsChannel) {
        this.readStored().then(({ settings, stored }) => onChange(settings, stored), (err: unknown) => this.log.warn('cannot read placement settings', { error: (err as Error).message }));
      }
    });
    await subscriber.subscribe(RedisKeys.placementSettingsChannel);
    const first = await this.readStored();
    onChange(first.settings, first.stored);
  }

  private async readStored(): Promise<{ settings: PlacementSettings; stored: boolean }> {
    const stored = (await this.redis.exists(RedisKeys.placementSettingsKey)) === 1;
    return { settings: await this.readSettings(), stored };
  }

  /** Model id → epoch ms of its last real request, as the gateway recorded it. */
  async lastUsed(): Promise<Map<string, number>> {
    const hash = await this.redis.hgetall(RedisKeys.placementLastUsed);
    const out = new Map<string, number>();
    for (const [modelId, value] of Object.entries(hash)) {
      const ms = Number(value);
      if (Number.isFinite(ms)) {
        out.set(modelId, ms);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
    this.subscriber = null;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
