/**
 * The commands every page has: navigation, llama-server control, models, theme, help. Commands
 * that send a request are listed only for roles that may send it (`can`, from the shared table).
 */
import type { ModelView } from '@llamaproxy/shared';
import type { Command } from './core/commands.js';
import { attempt, runJob } from './core/actions.js';
import { sendRevisioned } from './core/conflict.js';
import type { AppContext } from './core/context.js';
import { can } from './core/permissions.js';
import type { AppRoute } from './routes.js';

export interface ShellActions {
  openPalette(): void;
  toggleTheme(): void;
  showShortcuts(): void;
}

/** One command per page the role may open, listed fresh each time (the role can change). */
export function navigationCommands(ctx: AppContext, routes: readonly AppRoute[]): () => Command[] {
  return () =>
    routes
      .filter((r) => r.needs === undefined || can(ctx.store.get('identity'), r.needs))
      .map((r) => ({ id: `go:${r.path}`, title: `Go to ${r.title}`, group: 'Navigate', keys: r.keys, run: () => ctx.router.navigate(r.path) }));
}

export function shellCommands(actions: ShellActions): Command[] {
  return [
    { id: 'palette', title: 'Command palette', group: 'General', keys: 'mod+k', run: () => actions.openPalette() },
    { id: 'shortcuts', title: 'Keyboard shortcuts', group: 'General', keys: '?', run: () => actions.showShortcuts() },
    { id: 'theme', title: 'Toggle dark mode', group: 'General', run: () => actions.toggleTheme() },
  ];
}

/** llama-server start/stop/restart and the models rescan, for roles that may send them. */
export function serverCommands(ctx: AppContext): () => Command[] {
  const job = (action: 'start' | 'stop' | 'restart', title: string): Command => ({
    id: `llama:${action}`,
    title,
    group: 'llama-server',
    run: () => void runJob(ctx, title, () => ctx.store.request(`llama:${action}`, {})),
  });
  const all: { event: 'llama:start' | 'llama:stop' | 'llama:restart' | 'models:rescan'; command: Command }[] = [
    { event: 'llama:start', command: job('start', 'Start llama-server') },
    { event: 'llama:stop', command: job('stop', 'Stop llama-server') },
    { event: 'llama:restart', command: job('restart', 'Restart llama-server') },
    {
      event: 'models:rescan',
      command: { id: 'models:rescan', title: 'Rescan the models directory', group: 'Models', run: () => void runJob(ctx, 'Rescan', () => ctx.store.request('models:rescan', {})) },
    },
  ];
  return () => all.filter((c) => can(ctx.store.get('identity'), c.event)).map((c) => c.command);
}

/**
 * Loads a model once the user has seen which models the load would unload (placement, #14). The
 * preview needs the shared package's runtime (zod), so it is imported on first use.
 */
async function loadAfterPreview(ctx: AppContext, model: ModelView): Promise<void> {
  const { confirmLoad } = await import('./pages/models/load-confirm.js');
  if (await confirmLoad(ctx, model)) {
    await runJob(ctx, `Load ${model.id}`, () => ctx.store.request('models:load', { modelId: model.id }));
  }
}

/** One load or unload command per model, listed fresh each time the palette opens. */
export function modelCommands(ctx: AppContext): () => Command[] {
  return () => {
    const identity = ctx.store.get('identity');
    return ctx.store.get('models').flatMap((m): Command[] => {
      if ((m.state.status === 'loaded' || m.state.status === 'sleeping') && can(identity, 'models:unload')) {
        return [{ id: `unload:${m.id}`, title: `Unload ${m.id}`, group: 'Models', run: () => void runJob(ctx, `Unload ${m.id}`, () => ctx.store.request('models:unload', { modelId: m.id })) }];
      }
      if (m.valid && m.state.status !== 'loading' && m.state.status !== 'loaded' && m.state.status !== 'sleeping' && can(identity, 'models:load')) {
        return [{ id: `load:${m.id}`, title: `Load ${m.id}`, group: 'Models', run: () => void loadAfterPreview(ctx, m) }];
      }
      return [];
    });
  };
}

/**
 * Saves the theme chosen with the toggle, for roles that may change the shared settings, under the
 * settings revision the app holds. The change is one key merged into the stored settings, so when
 * someone else changed them first (CONFLICT) it is sent again under the current revision without
 * asking: it overwrites their theme only, which is what the click meant.
 */
export function toggleThemeCommand(ctx: AppContext, next: 'light' | 'dark'): void {
  if (can(ctx.store.get('identity'), 'settings:update')) {
    const revision = ctx.store.get('revisions')?.settings ?? 0;
    void attempt(ctx, 'Saving the theme', () =>
      sendRevisioned(revision, (r) => ctx.store.request('settings:update', { settings: { theme: next }, revision: r }), () => 'overwrite', () => undefined),
    );
  }
}
