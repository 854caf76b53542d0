// @vitest-environment happy-dom
import { DEFAULT_DASHBOARD_SETTINGS, type Role } from '@llamaproxy/shared';
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
    ['viewer', [], [], ['go:/', 'go:/activity', 'go:/api-keys', 'go:/configuration', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/settings']],
    ['operator', ['llama:restart', 'llama:start', 'llama:stop', 'models:rescan'], ['load:idle', 'unload:busy'], ['go:/', 'go:/activity', 'go:/api-keys', 'go:/configuration', 'go:/get-models', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/playground', 'go:/settings']],
    [
      'admin',
      ['llama:restart', 'llama:start', 'llama:stop', 'models:rescan'],
      ['load:idle', 'unload:busy'],
      ['go:/', 'go:/activity', 'go:/alerts', 'go:/api-keys', 'go:/audit', 'go:/configuration', 'go:/get-models', 'go:/logs', 'go:/models', 'go:/monitoring', 'go:/playground', 'go:/settings', 'go:/users'],
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
    admin.ctx.store.set('revisions', { config: 0, preset: 0, settings: 4 });
    toggleThemeCommand(admin.ctx, 'dark');
    expect(admin.transport.sent).toEqual([{ event: 'settings:update', payload: { settings: { theme: 'dark' }, revision: 4 } }]);
  });

  it('sends the toggled theme again under the current revision when the settings changed meanwhile', async () => {
    const { ctx, transport } = context('admin');
    const error = vi.fn();
    ctx.toasts.error = error;
    ctx.store.set('revisions', { config: 0, preset: 0, settings: 4 });
    toggleThemeCommand(ctx, 'light');
    transport.fail('settings:update', { code: 'CONFLICT', message: 'changed meanwhile', current: { document: 'settings', revision: 6, value: {} } });
    await vi.waitFor(() => expect(transport.sent).toHaveLength(2));
    expect(transport.sent[1]).toEqual({ event: 'settings:update', payload: { settings: { theme: 'light' }, revision: 6 } });
    transport.answer('settings:update', { settings: { ...DEFAULT_DASHBOARD_SETTINGS, theme: 'light' }, revision: 7 });
    await vi.waitFor(() => expect(transport.pendingEvents()).toEqual([]));
    await Promise.resolve();
    expect(error).not.toHaveBeenCalled();
  });
});
