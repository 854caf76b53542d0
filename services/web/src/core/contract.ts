/**
 * Runtime copies of the few constants of `@llamaproxy/shared` that the initial bundle needs.
 *
 * Importing a value from the shared package pulls zod into the bundle (about 35 KB gzipped), so
 * eagerly loaded modules import only types from it. Each copy below is typed against the shared
 * value, and contract.spec.ts checks that it equals it, so the two cannot drift apart.
 * Lazily loaded pages may import runtime values (schemas, parsePresetIni) from the package.
 */
import type * as Shared from '@llamaproxy/shared';

export const SOCKET_PATH: typeof Shared.SOCKET_PATH = '/llamaproxws';

export const LOG_LEVEL_RANK: typeof Shared.LOG_LEVEL_RANK = { error: 0, warn: 1, info: 2, debug: 3 };

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const satisfies readonly Shared.LogLevel[];

export const LOG_SOURCES = ['gateway', 'supervisor', 'llama-server', 'metrics', 'audit'] as const satisfies readonly Shared.LogSource[];

/** Broadcasts that change state; each increments the server's `seq`. The rest are idempotent merges. */
export const MERGE_BROADCASTS = ['metrics:update', 'logs:entry', 'activity:new'] as const satisfies readonly Shared.BroadcastEvent[];

/** The gateway's identity routes (under the app's base path, forwarded by nginx). */
export const AUTH_ROUTES: typeof Shared.AuthRoutes = {
  session: '/api/auth/session',
  signIn: '/api/auth/sign-in',
  signOut: '/api/auth/sign-out',
  signOutAll: '/api/auth/sign-out-all',
  setup: '/api/auth/setup',
  password: '/api/auth/password',
};

export const ROLES = ['viewer', 'operator', 'admin'] as const satisfies readonly Shared.Role[];

export const ROLE_RANK: typeof Shared.ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };

/**
 * The role each request needs: `RequestEvents[event].role` of the shared request table, without
 * its zod schemas. The type is built from that table, so each entry must be exactly the role the
 * table says (a different role, a missing or an extra event does not compile), and
 * contract.spec.ts compares the two at run time as well. The web app asks `can()` in
 * permissions.ts, which reads only this.
 */
export const REQUEST_ROLES: { readonly [E in Shared.RequestEvent]: (typeof Shared.RequestEvents)[E]['role'] } = {
  'models:list': 'viewer',
  'models:get': 'viewer',
  'models:load': 'operator',
  'models:unload': 'operator',
  'models:rescan': 'operator',
  'models:settings:get': 'viewer',
  'models:settings:update': 'admin',
  'presets:get': 'viewer',
  'presets:update': 'admin',
  'presets:validate': 'viewer',
  'llama:status': 'viewer',
  'llama:start': 'operator',
  'llama:stop': 'operator',
  'llama:restart': 'operator',
  'llama:args': 'viewer',
  'config:get': 'viewer',
  'config:update': 'admin',
  'metrics:latest': 'viewer',
  'metrics:history': 'viewer',
  'logs:query': 'viewer',
  'logs:clear': 'admin',
  'settings:get': 'viewer',
  'settings:update': 'admin',
  'users:list': 'admin',
  'users:create': 'admin',
  'users:update': 'admin',
  'users:password:reset': 'admin',
  'users:delete': 'admin',
  'sessions:list': 'admin',
  'sessions:revoke': 'admin',
  'audit:query': 'admin',
  'apikeys:list': 'viewer',
  'apikeys:create': 'operator',
  'apikeys:revoke': 'operator',
  'apikeys:own:create': 'viewer',
  'apikeys:own:revoke': 'viewer',
  'activity:query': 'viewer',
  'activity:usage': 'viewer',
  'capture:get': 'admin',
  'capture:update': 'admin',
  'capture:view': 'admin',
  'alerts:get': 'admin',
  'alerts:channels:create': 'admin',
  'alerts:channels:update': 'admin',
  'alerts:channels:delete': 'admin',
  'alerts:channels:test': 'admin',
  'alerts:rules:save': 'admin',
  'alerts:rules:delete': 'admin',
  'alerts:rules:silence': 'admin',
  'alerts:history': 'admin',
  'placement:get': 'viewer',
  'placement:update': 'operator',
  'snapshot:get': 'viewer',
  'hf:search': 'operator',
  'hf:files': 'operator',
  'downloads:list': 'viewer',
  'downloads:start': 'operator',
  'downloads:cancel': 'operator',
  'models:delete': 'admin',
};
