import type { ApiKeysService } from '../services/api-keys.service.js';
import type { DomainHandlers } from './request-context.js';

type ApiKeyEvents = 'apikeys:list' | 'apikeys:create' | 'apikeys:revoke' | 'apikeys:own:create' | 'apikeys:own:revoke';

/**
 * API keys of the `/v1` endpoint: operators manage their own, admins everyone's; with
 * API_KEYS_SELF_SERVICE every signed-in user manages their own through `apikeys:own:*`.
 */
export function createApiKeyHandlers(deps: { apiKeys: ApiKeysService }): DomainHandlers<ApiKeyEvents> {
  const { apiKeys } = deps;
  return {
    'apikeys:list': async (_req, ctx) => ({ keys: apiKeys.list(ctx.identity), selfService: apiKeys.selfService }),
    'apikeys:create': async (req, ctx) => apiKeys.create(req, ctx.identity),
    'apikeys:revoke': async ({ keyId }, ctx) => ({ key: apiKeys.revoke(keyId, ctx.identity) }),
    'apikeys:own:create': async (req, ctx) => apiKeys.create(req, apiKeys.ownIdentity(ctx.identity)),
    'apikeys:own:revoke': async ({ keyId }, ctx) => ({ key: apiKeys.revoke(keyId, apiKeys.ownIdentity(ctx.identity)) }),
  };
}
