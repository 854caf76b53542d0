import type { ApiKeysService } from '../services/api-keys.service.js';
import type { DomainHandlers } from './request-context.js';

type ApiKeyEvents = 'apikeys:list' | 'apikeys:create' | 'apikeys:revoke';

/** API keys of the `/v1` endpoint: every signed-in user manages their own, admins everyone's. */
export function createApiKeyHandlers(deps: { apiKeys: ApiKeysService }): DomainHandlers<ApiKeyEvents> {
  const { apiKeys } = deps;
  return {
    'apikeys:list': async (_req, ctx) => ({ keys: apiKeys.list(ctx.identity) }),
    'apikeys:create': async (req, ctx) => apiKeys.create(req, ctx.identity),
    'apikeys:revoke': async ({ keyId }, ctx) => ({ key: apiKeys.revoke(keyId, ctx.identity) }),
  };
}
