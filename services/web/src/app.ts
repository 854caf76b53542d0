/** Composes the app: state over the socket, the shell, the router, commands and shortcuts. */
import { modelCommands, navigationCommands, serverCommands, shellCommands, toggleThemeCommand } from './app-commands.js';
import { AppShell } from './components/app-shell.js';
import { CommandPalette } from './components/command-palette.js';
import { ShortcutsDialog } from './components/shortcuts-dialog.js';
import { Toaster } from './components/toaster.js';
import { basePathFrom, socketPathFor, withBase } from './core/base-path.js';
import { CommandRegistry } from './core/commands.js';
import type { AppContext } from './core/context.js';
import { h } from './core/dom.js';
import { Router } from './core/router.js';
import { SocketTransport } from './core/socket-transport.js';
import { StateManager } from './core/state-manager.js';
import { watchFailures } from './core/state-alerts.js';
import { applyTheme, effectiveTheme } from './core/theme.js';
import { errorMessage } from './core/transport.js';
import { NOT_FOUND, ROUTES, type AppRoute } from './routes.js';

export function startApp(root: HTMLElement): void {
  const base = basePathFrom(document.baseURI);
  const store = new StateManager(new SocketTransport(socketPathFor(base)));
  const commands = new CommandRegistry();
  const toasts = new Toaster().mount(document.body);
  const palette = new CommandPalette(commands).mount(document.body);
  const shortcuts = new ShortcutsDialog(commands).mount(document.body);

  const toggleTheme = (): void => {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    applyTheme(next);
    toggleThemeCommand(ctx, next);
  };
  const shell = new AppShell({
    store,
    nav: ROUTES,
    href: (path) => withBase(path, base),
    onOpenPalette: () => palette.open(),
    onToggleTheme: toggleTheme,
  }).mount(root);

  const router: Router<AppRoute> = new Router({
    base,
    routes: ROUTES,
    notFound: NOT_FOUND,
    outlet: shell.outlet,
    render: async (route) => new (await route.load())(ctx),
    onError: (error, route) => {
      shell.outlet.replaceChildren(
        h('div', { class: 'page' }, h('section', { class: 'card' }, h('h2', null, `${route.title} could not be opened`), h('p', null, errorMessage(error)))),
      );
      toasts.error(`Could not open ${route.title}: ${errorMessage(error)}`);
    },
  });
  const ctx: AppContext = { store, router, toasts, commands };

  let firstRoute = true;
  router.onChange((route, path) => {
    shell.setPage(route === NOT_FOUND ? '' : path, route.title);
    if (!firstRoute) {
      shell.outlet.focus({ preventScroll: true });
    }
    firstRoute = false;
  });

  commands.add(shellCommands({ openPalette: () => palette.open(), toggleTheme, showShortcuts: () => shortcuts.open() }));
  commands.add(navigationCommands(ctx, ROUTES));
  commands.add(serverCommands(ctx));
  commands.add(modelCommands(ctx));
  document.addEventListener('keydown', (event) => {
    if (!palette.isOpen && !document.querySelector('dialog[open]')) {
      commands.handleKey(event);
    }
  });

  store.subscribe('settings', (settings) => {
    if (settings !== null) {
      applyTheme(settings.theme);
    }
  });
  watchFailures(store, toasts);
  router.start();
  store.start();
}
