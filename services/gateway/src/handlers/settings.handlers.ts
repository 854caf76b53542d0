import { DashboardSettingsSchema, RedisKeys, type DashboardSettings } from '@llamaproxy/shared';
import type { Redis } from 'ioredis';
import type { Broadcaster } from '../services/broadcaster.js';
import type { DashboardState } from '../services/dashboard-state.js';
import type { SnapshotService } from '../services/snapshot.service.js';
import type { DomainHandlers } from './request-context.js';

/**
 * Services that follow settings live (the metrics interval) read the channel, and the key when
 * they start later.
 */
export async function shareSettings(redis: Redis, settings: DashboardSettings): Promise<void> {
  const text = JSON.stringify(settings);
  await redis.set(RedisKeys.settingsKey, text).catch(() => null);
  await redis.publish(RedisKeys.settingsChannel, text).catch(() => 0);
}

/** Dashboard settings (shared by every user) and the state snapshot. */
export function createSettingsHandlers(deps: { dashboard: DashboardState; broadcaster: Broadcaster; redis: Redis; snapshots: SnapshotService }): DomainHandlers<'settings:get' | 'settings:update' | 'snapshot:get'> {
  const { dashboard, broadcaster, redis, snapshots } = deps;
  return {
    'settings:get': async () => {
      const { value: settings, revision } = dashboard.settingsDoc();
      return { settings, revision };
    },
    'settings:update': async ({ settings: patch, revision: expected }) => {
      const { value: settings, revision } = dashboard.changeSettings(expected, (current) => DashboardSettingsSchema.parse({ ...current, ...patch })).next;
      await broadcaster.broadcast('settings:updated', { settings, revision });
      await shareSettings(redis, settings);
      return { settings, revision };
    },
    'snapshot:get': async ({ cursors }, ctx) => snapshots.snapshot(ctx.identity, cursors),
  };
}
