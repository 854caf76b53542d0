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

export const LOG_SOURCES = ['gateway', 'supervisor', 'llama-server', 'metrics'] as const satisfies readonly Shared.LogSource[];

/** Broadcasts that change state; each increments the server's `seq`. The rest are idempotent merges. */
export const MERGE_BROADCASTS = ['metrics:update', 'logs:entry'] as const satisfies readonly Shared.BroadcastEvent[];
