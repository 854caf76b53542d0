/** An AppContext over a FakeTransport for page tests (happy-dom): online, with the given identity. */
import type { ConnectionIdentity } from '@llamaproxy/shared';
import { vi } from 'vitest';
import { CommandRegistry } from '../core/commands.js';
import type { AppContext } from '../core/context.js';
import { StateManager } from '../core/state-manager.js';
import { FakeTransport } from './fake-transport.js';

export interface PageContext {
  ctx: AppContext;
  transport: FakeTransport;
  toasts: { info: ReturnType<typeof vi.fn>; success: ReturnType<typeof vi.fn>; error: ReturnType<typeof vi.fn> };
}

export function pageContext(identity: ConnectionIdentity | null): PageContext {
  const transport = new FakeTransport();
  const store = new StateManager(transport, { snapshotFallbackMs: 60_000 });
  store.start();
  transport.goOnline();
  store.set('identity', identity);
  const toasts = { info: vi.fn(), success: vi.fn(), error: vi.fn() };
  const ctx: AppContext = { store, router: { path: '/', navigate: vi.fn(), href: (p) => p }, toasts, commands: new CommandRegistry() };
  return { ctx, transport, toasts };
}
