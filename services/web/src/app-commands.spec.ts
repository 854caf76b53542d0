// @vitest-environment happy-dom
import type { Role } from '@llamaproxy/shared';
import { describe, expect, it, vi } from 'vitest';
import { modelCommands, navigationCommands, serverCommands, toggleThemeCommand } from './app-commands.js';
import { CommandRegistry } from './core/commands.js';
import type { AppContext } from './core/context.js';
import { StateManager } from './core/state-manager.js';
import { ROUTES } from './routes.js';
import { FakeTransport } from './test-support/fake-transport.js';
import { identity, model } from './test-support/fixtures.js';

function context(role: Role | null): { ctx: AppContext; transport: FakeTransport } {
  const transport = new FakeTransport();
  const store = new StateManager(transport);
  store.start();
  transport.goOnline();
  store.set('identity', role === null ? null : identity(role));
  store.set('models', [model('idle'), model('busy', { state: { ...model('busy').state, status: 'loaded' } })]);
  const ctx: AppContext = { store, router: { path: '/', navigate: vi.fn(), href: (p) => p }, toasts: { info: vi.fn(), success: vi.fn(), error: vi.fn() }, commands: new CommandRegistry() };
  return { ctx, transport };
}

const ids = (list: { id: string }[]) => list.map((c) => c.id).sort();

describe('app commands', () => {
  it.each([
    [null, [], [], ['go:/', 'go:/configuration', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/settings']],
    ['viewer', [], [], ['go:/', 'go:/configuration', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/settings']],
    ['operator', ['llama:restart', 'llama:start', 'llama:stop', 'models:rescan'], ['load:idle', 'unload:busy'], ['go:/', 'go:/configuration', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/settings']],
    [
      'admin',
      ['llama:restart', 'llama:start', 'llama:stop', 'models:rescan'],
      ['load:idle', 'unload:busy'],
      ['go:/', 'go:/audit', 'go:/configuration', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/settings', 'go:/users'],
    ],
  ] as const)('a %s gets only the commands the role may run', (role, server, models, navigation) => {
    const { ctx } = context(role);
    expect(ids(serverCommands(ctx)())).toEqual(server);
    expect(ids(modelCommands(ctx)())).toEqual(models);
    expect(ids(navigationCommands(ctx, ROUTES)())).toEqual(navigation);
  });

  it('lists again after a role change', () => {
    const { ctx } = context('viewer');
    const list = serverCommands(ctx);
    expect(list()).toEqual([]);
    ctx.store.set('identity', identity('operator'));
    expect(list()).toHaveLength(4);
  });

  it('saves the toggled theme only for roles that may change the settings', () => {
    const viewer = context('viewer');
    toggleThemeCommand(viewer.ctx, 'dark');
    expect(viewer.transport.sent).toEqual([]);
    const admin = context('admin');
    toggleThemeCommand(admin.ctx, 'dark');
    expect(admin.transport.sent).toEqual([{ event: 'settings:update', payload: { settings: { theme: 'dark' } } }]);
  });
});
