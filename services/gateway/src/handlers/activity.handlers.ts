import type { CaptureSettings } from '@llamaproxy/shared';
import type { ApiActivityRepository } from '../repositories/api-activity.repository.js';
import type { CaptureRepository } from '../repositories/capture.repository.js';
import type { RequestContext, DomainHandlers } from './request-context.js';

/** Admins see every user's requests; everyone else only their own (by user id). */
const scope = (ctx: RequestContext): string | undefined => (ctx.identity.role === 'admin' ? undefined : (ctx.identity.user?.id ?? ''));

type ActivityEvents = 'activity:query' | 'activity:usage' | 'capture:get' | 'capture:update' | 'capture:view';

/** Activity and usage of the `/v1` endpoint, and the capture buffer (admins only, by the role table). */
export function createActivityHandlers(deps: { apiActivity: ApiActivityRepository; captures: CaptureRepository }): DomainHandlers<ActivityEvents> {
  const { apiActivity, captures } = deps;
  return {
    'activity:query': async (q, ctx) => apiActivity.query({ ...q, userId: scope(ctx) }),
    'activity:usage': async ({ from, to, period }, ctx) => ({ rows: apiActivity.usage(from, to ?? Date.now(), period, scope(ctx)) }),
    'capture:get': async () => ({ settings: captures.settings(), stored: captures.count() }),
    'capture:update': async (change) => {
      const current = captures.settings();
      const settings: CaptureSettings = {
        enabled: change.enabled ?? current.enabled,
        maxRequests: change.maxRequests ?? current.maxRequests,
        maxBytes: change.maxBytes ?? current.maxBytes,
      };
      return { settings, stored: captures.saveSettings(settings) };
    },
    'capture:view': async ({ activityId }) => ({ capture: captures.get(activityId) }),
  };
}
