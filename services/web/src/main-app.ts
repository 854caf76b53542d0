/**
 * The app a signed-in user sees: state over the socket, the shell, the router, commands and
 * shortcuts. Started once per page load by app.ts; suspended (socket closed, shell detached) when
 * the session ends and resumed in place when the user signs in again.
 */
import type { AuthSessionInfo, ConnectionIdentity } from '@llamaproxy/shared';
import { modelCommands, navigationCommands, serverCommands, shellCommands, toggleThemeCommand } from './app-commands.js';
import { AppShell } from './components/app-shell.js';
import { CommandPalette } from './components/command-palette.js';
import { ShortcutsDialog } from './components/shortcuts-dialog.js';
import { Toaster } from './components/toaster.js';
import { AuthError, type AuthClient } from './core/auth-client.js';
import { socketPathFor, stripBase, withBase } from './core/base-path.js';
import { CommandRegistry } from './core/commands.js';
import type { AppContext } from './core/context.js';
import { h } from './core/dom.js';
import { can } from './core/permissions.js';
import { Router } from './core/router.js';
import { SocketTransport } from './core/socket-transport.js';
import { StateManager } from './core/state-manager.js';
import { watchFailures } from './core/state-alerts.js';
import { applyTheme, effectiveTheme } from './core/theme.js';
import { errorMessage } from './core/transport.js';
import { identityFromSession } from './lib/auth-session.js';
import { errorText } from './lib/error-text.js';
import { NotAllowedPage } from './pages/not-allowed-page.js';
import { NOT_FOUND, ROUTES, type AppRoute } from './routes.js';

export interface MainAppOptions {
  root: HTMLElement;
  base: string;
  auth: AuthClient;
  /**
   * Asks the gateway for the session again and shows what fits (this app, or the sign-in page);
   * `signedOut` when the user signed out here (no "your session ended" notice then).
   */
  checkSession(signedOut?: boolean): void;
}

/** Longest wait between two handshakes the server refused. */
const MAX_RETRY_MS = 30_000;

export class MainApp {
  private readonly options: MainAppOptions;
  private readonly transport: SocketTransport;
  private readonly store: StateManager;
  private readonly toasts: Toaster;
  private readonly palette: CommandPalette;
  private readonly shell: AppShell;
  private readonly router: Router<AppRoute>;
  private readonly ctx: AppContext;
  private active = true;
  /** Handshakes refused in a row (backs off the retries). */
  private refusals = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: MainAppOptions, info: AuthSessionInfo) {
    this.options = options;
    const { root, base } = options;
    this.transport = new SocketTransport(socketPathFor(base), {
      onServerDisconnect: () => {
        // Counted like a refusal, so a server that keeps closing the socket is not hammered.
        this.refusals += 1;
        options.checkSession();
      },
      onRefused: (code) => this.onRefused(code),
    });
    const store = new StateManager(this.transport);
    this.store = store;
    store.set('identity', identityFromSession(info));
    const commands = new CommandRegistry();
    this.toasts = new Toaster().mount(document.body);
    this.palette = new CommandPalette(commands).mount(document.body);
    const shortcuts = new ShortcutsDialog(commands).mount(document.body);

    const toggleTheme = (): void => {
      const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
      applyTheme(next);
      toggleThemeCommand(this.ctx, next);
    };
    this.shell = new AppShell({
      store,
      nav: ROUTES,
      href: (path) => withBase(path, base),
      onOpenPalette: () => this.palette.open(),
      onToggleTheme: toggleTheme,
      onChangePassword: () => void this.changePassword(),
      onSignOut: (everywhere) => void this.signOut(everywhere),
    });
    root.replaceChildren();
    this.shell.mount(root);

    this.router = new Router({
      base,
      routes: ROUTES,
      notFound: NOT_FOUND,
      outlet: this.shell.outlet,
      render: async (route) => (route.needs !== undefined && !can(store.get('identity'), route.needs) ? new NotAllowedPage(this.ctx) : new (await route.load())(this.ctx)),
      onError: (error, route) => {
        this.shell.outlet.replaceChildren(
          h('div', { class: 'page' }, h('section', { class: 'card' }, h('h2', null, `${route.title} could not be opened`), h('p', null, errorMessage(error)))),
        );
        this.toasts.error(`Could not open ${route.title}: ${errorMessage(error)}`);
      },
    });
    this.ctx = { store, router: this.router, toasts: this.toasts, commands };

    let firstRoute = true;
    this.router.onChange((route, path) => {
      this.shell.setPage(route === NOT_FOUND ? '' : path, route.title);
      if (!firstRoute) {
        this.shell.outlet.focus({ preventScroll: true });
      }
      firstRoute = false;
    });

    commands.add(shellCommands({ openPalette: () => this.palette.open(), toggleTheme, showShortcuts: () => shortcuts.open() }));
    commands.add(navigationCommands(this.ctx, ROUTES));
    commands.add(serverCommands(this.ctx));
    commands.add(modelCommands(this.ctx));
    document.addEventListener('keydown', (event) => {
      if (this.active && !this.palette.isOpen && !document.querySelector('dialog[open]')) {
        commands.handleKey(event);
      }
    });

    store.subscribe('settings', (settings) => {
      if (settings !== null) {
        applyTheme(settings.theme);
      }
    });
    store.subscribe('identity', (identity, previous) => this.onIdentity(identity, previous));
    store.subscribe('connection', (connection) => {
      if (connection.status === 'connected') {
        this.refusals = 0;
      }
    });
    watchFailures(store, this.toasts);
    this.router.start();
    store.start();
  }

  /** Signed in (again): the identity of the session, the shell back in place, the socket connected. */
  resume(info: AuthSessionInfo): void {
    this.store.set('identity', identityFromSession(info));
    if (!this.active) {
      this.active = true;
      this.options.root.replaceChildren(this.shell.el);
      // The page may hold what the previous user saw (lists fetched on open): build it again.
      this.router.navigate(`${stripBase(location.pathname, this.options.base) ?? '/'}${location.search}`, true);
    }
    this.connectSoon();
  }

  /** True while the app is on screen (not replaced by the sign-in page). */
  get isActive(): boolean {
    return this.active;
  }

  /** The session could not be asked (gateway restarting): keep the app and let the socket retry. */
  reconnect(): void {
    this.connectSoon();
  }

  /** Signed out: closes the socket and whatever is open over the page; app.ts shows the sign-in page. */
  suspend(): void {
    this.active = false;
    this.clearRetry();
    this.transport.disconnect();
    if (this.palette.isOpen) {
      this.palette.close();
    }
    document.querySelectorAll('dialog[open]').forEach((dialog) => (dialog as HTMLDialogElement).close());
    this.shell.el.remove();
  }

  private onIdentity(identity: ConnectionIdentity | null, previous: ConnectionIdentity | null): void {
    const route = this.router.match(this.router.path);
    if (route.needs !== undefined && can(identity, route.needs) !== can(previous, route.needs)) {
      this.router.navigate(`${this.router.path}${location.search}`, true);
    }
  }

  private onRefused(code: string): void {
    this.refusals += 1;
    if (code === 'UNAUTHENTICATED') {
      // The session ended (or the cookie never reached the socket): the session decides.
      this.options.checkSession();
      return;
    }
    if (code === 'ORIGIN_NOT_ALLOWED' || code === 'RATE_LIMITED') {
      this.toasts.error(`Connecting: ${errorText({ code, message: code })}`);
    }
    this.connectSoon();
  }

  /** Connects now, or after a growing delay when the server refused the last handshakes. */
  private connectSoon(): void {
    this.clearRetry();
    if (this.transport.connected) {
      return;
    }
    const delay = this.refusals === 0 ? 0 : Math.min(MAX_RETRY_MS, 1000 * 2 ** (this.refusals - 1));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.active) {
        this.transport.connect();
      }
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private async signOut(everywhere: boolean): Promise<void> {
    try {
      await this.options.auth.signOut(everywhere);
    } catch (error) {
      this.toasts.error(`Signing out: ${error instanceof AuthError ? errorText(error) : errorMessage(error)}`);
      return;
    }
    this.suspend();
    this.options.checkSession(true);
  }

  private async changePassword(): Promise<void> {
    const { PasswordDialog } = await import('./components/password-dialog.js');
    new PasswordDialog({
      title: 'Change your password',
      askCurrent: true,
      submitLabel: 'Change password',
      onSubmit: async (next, current) => {
        try {
          await this.options.auth.changePassword({ currentPassword: current, newPassword: next });
          this.toasts.success('Password changed');
          return null;
        } catch (error) {
          return error instanceof AuthError ? errorText(error, 'password') : errorMessage(error);
        }
      },
    }).open();
  }
}
