/** The commands every page has: navigation, llama-server control, models, theme, help. */
import type { Command } from './core/commands.js';
import { attempt, runJob } from './core/actions.js';
import type { AppContext } from './core/context.js';
import type { AppRoute } from './routes.js';

export interface ShellActions {
  openPalette(): void;
  toggleTheme(): void;
  showShortcuts(): void;
}

export function navigationCommands(ctx: AppContext, routes: readonly AppRoute[]): Command[] {
  return routes.map((r) => ({ id: `go:${r.path}`, title: `Go to ${r.title}`, group: 'Navigate', keys: r.keys, run: () => ctx.router.navigate(r.path) }));
}

export function shellCommands(actions: ShellActions): Command[] {
  return [
    { id: 'palette', title: 'Command palette', group: 'General', keys: 'mod+k', run: () => actions.openPalette() },
    { id: 'shortcuts', title: 'Keyboard shortcuts', group: 'General', keys: '?', run: () => actions.showShortcuts() },
    { id: 'theme', title: 'Toggle dark mode', group: 'General', run: () => actions.toggleTheme() },
  ];
}

export function serverCommands(ctx: AppContext): Command[] {
  const job = (action: 'start' | 'stop' | 'restart', title: string): Command => ({
    id: `llama:${action}`,
    title,
    group: 'llama-server',
    run: () => void runJob(ctx, title, () => ctx.store.request(`llama:${action}`, {})),
  });
  return [
    job('start', 'Start llama-server'),
    job('stop', 'Stop llama-server'),
    job('restart', 'Restart llama-server'),
    { id: 'models:rescan', title: 'Rescan the models directory', group: 'Models', run: () => void runJob(ctx, 'Rescan', () => ctx.store.request('models:rescan', {})) },
  ];
}

/** One load or unload command per model, listed fresh each time the palette opens. */
export function modelCommands(ctx: AppContext): () => Command[] {
  return () =>
    ctx.store.get('models').flatMap((m): Command[] => {
      if (m.state.status === 'loaded' || m.state.status === 'sleeping') {
        return [{ id: `unload:${m.id}`, title: `Unload ${m.id}`, group: 'Models', run: () => void runJob(ctx, `Unload ${m.id}`, () => ctx.store.request('models:unload', { modelId: m.id })) }];
      }
      if (m.valid && m.state.status !== 'loading') {
        return [{ id: `load:${m.id}`, title: `Load ${m.id}`, group: 'Models', run: () => void runJob(ctx, `Load ${m.id}`, () => ctx.store.request('models:load', { modelId: m.id })) }];
      }
      return [];
    });
}

export function toggleThemeCommand(ctx: AppContext, next: 'light' | 'dark'): void {
  void attempt(ctx, 'Saving the theme', () => ctx.store.request('settings:update', { settings: { theme: next } }));
}
