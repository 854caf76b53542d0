import type { ApiActivityRepository } from '../repositories/api-activity.repository.js';
import type { RequestContext, DomainHandlers } from './request-context.js';

/** Admins see every user's requests; everyone else only their own (by user id). */
const scope = (ctx: RequestContext): string | undefined => (ctx.identity.role === 'admin' ? undefined : (ctx.identity.user?.id ?? ''));

/** Activity and usage of the `/v1` endpoint. */
export function createActivityHandlers(deps: { apiActivity: ApiActivityRepository }): DomainHandlers<'activity:query' | 'activity:usage'> {
  const { apiActivity } = deps;
  return {
    'activity:query': async (q, ctx) => apiActivity.query({ ...q, userId: scope(ctx) }),
    'activity:usage': async ({ from, to, period }, ctx) => ({ rows: apiActivity.usage(from, to ?? Date.now(), period, scope(ctx)) }),
  };
}
