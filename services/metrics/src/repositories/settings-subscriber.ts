import type { Redis } from 'ioredis';
import { DashboardSettingsSchema, RedisKeys, type DashboardSettings } from '@llamaproxy/shared';

const SettingsMessageSchema = DashboardSettingsSchema.partial();

/**
 * Listens to the dashboard's settings on Redis pub/sub (the gateway publishes them, whole or in
 * part, as JSON). A message that does not parse is reported to `onInvalid` and otherwise ignored.
 */
export class SettingsSubscriber {
  private readonly redis: Redis;

  constructor(subscriber: Redis) {
    this.redis = subscriber;
  }

  async subscribe(onSettings: (settings: Partial<DashboardSettings>) => void, onInvalid: (reason: string) => void): Promise<void> {
    const apply = (message: string): void => {
      let json: unknown;
      try {
        json = JSON.parse(message);
      } catch {
        onInvalid('not JSON');
        return;
      }
      const parsed = SettingsMessageSchema.safeParse(json);
      if (!parsed.success) {
        onInvalid(parsed.error.issues.map((i) => `${i.path.join('.') || 'settings'}: ${i.message}`).join('; '));
        return;
      }
      onSettings(parsed.data);
    };
    // Settings changed before this collector started are kept by the gateway under a key
    // (read first: a connection in subscribe mode cannot read keys).
    const current = await this.redis.get(RedisKeys.settingsKey);
    if (current !== null) {
      apply(current);
    }
    this.redis.on('message', (channel: string, message: string) => {
      if (channel === RedisKeys.settingsChannel) {
        apply(message);
      }
    });
    await this.redis.subscribe(RedisKeys.settingsChannel);
  }
}
