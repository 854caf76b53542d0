import type { ConnectionIdentity, NodeView, RequestEvent } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import { needs, syncPermissions } from '../core/permissions.js';
import type { StateManager } from '../core/state-manager.js';
import { offlineBanner } from '../lib/node-status.js';
import { ConnectionIndicator } from './connection-indicator.js';
import { UserMenu } from './user-menu.js';

export interface NavItem {
  path: string;
  title: string;
  icon: string;
  keys: string;
  /** The request the page is about; the link is hidden from roles that cannot send it. */
  needs?: RequestEvent;
}

export interface AppShellProps {
  store: StateManager;
  nav: readonly NavItem[];
  href(path: string): string;
  onOpenPalette(): void;
  onToggleTheme(): void;
  onChangePassword(): void;
  onSignOut(everywhere: boolean): void;
}

/**
 * Header (with the user's menu), warning banners (sign-in is off; a supervisor node is offline,
 * so what is shown of it is stale), side navigation (a drawer
 * on phones; links to pages the role cannot use are hidden) and the outlet where pages mount.
 */
export class AppShell extends Component<AppShellProps> {
  readonly outlet = h('main', { id: 'main', class: 'outlet', tabindex: -1 });
  private menuButton!: HTMLButtonElement;

  protected override render(): HTMLElement {
    this.menuButton = h('button', { class: 'icon-button menu-button', 'aria-label': 'Menu', 'aria-expanded': 'false', 'aria-controls': 'nav', 'data-action': 'menu' }, '☰');
    const links = this.props.nav.map((item) =>
      h(
        'li',
        item.needs === undefined ? null : needs(item.needs),
        h(
          'a',
          { href: this.props.href(item.path), 'data-route': '', 'data-path': item.path, title: `${item.title} (${item.keys})` },
          h('span', { class: 'nav-icon', 'aria-hidden': 'true' }, item.icon),
          h('span', null, item.title),
        ),
      ),
    );
    const shell = h(
      'div',
      { class: 'shell' },
      h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
      h(
        'header',
        { class: 'topbar' },
        this.menuButton,
        h('span', { class: 'brand' }, h('span', { 'aria-hidden': 'true' }, '🦙 '), 'Llama Proxy'),
        h('h1', { class: 'page-title' }),
        h('span', { class: 'spacer' }),
        h('button', { class: 'button ghost palette-button', 'data-action': 'palette', 'aria-keyshortcuts': 'Control+K' }, 'Commands ', h('kbd', null, 'Ctrl K')),
        h('button', { class: 'icon-button', 'data-action': 'theme', 'aria-label': 'Toggle dark mode' }, '◐'),
      ),
      h(
        'div',
        { class: 'banners' },
        h(
          'p',
          { class: 'auth-banner', role: 'note', hidden: true },
          h('strong', null, 'Sign-in is off'),
          ' (AUTH_MODE=none): anyone who can reach this page is an admin.',
        ),
        h('p', { class: 'node-banner', role: 'status', hidden: true }),
      ),
      h('nav', { id: 'nav', class: 'sidebar', 'aria-label': 'Main' }, h('ul', null, links)),
      h('div', { class: 'scrim', 'data-action': 'close-menu', hidden: true }),
      this.outlet,
    );
    const topbar = shell.querySelector('.topbar') as HTMLElement;
    this.adopt(new ConnectionIndicator(this.props.store), topbar, shell.querySelector('.palette-button'));
    this.adopt(new UserMenu({ store: this.props.store, onChangePassword: () => this.props.onChangePassword(), onSignOut: (all) => this.props.onSignOut(all) }), topbar);
    return shell;
  }

  protected override onMount(): void {
    this.own(this.props.store.subscribe('identity', (identity) => this.showIdentity(identity), true));
    this.own(this.props.store.subscribe('nodes', (nodes) => this.showNodes(nodes), true));
    // "… (5m 12s ago)" moves on while a node stays offline.
    this.every(1000, () => this.showNodes(this.props.store.get('nodes')));
  }

  private showNodes(nodes: readonly NodeView[]): void {
    const banner = this.el.querySelector('.node-banner') as HTMLElement;
    const text = offlineBanner(nodes, Date.now());
    banner.hidden = text === null;
    setText(banner, text ?? '');
  }

  private showIdentity(identity: ConnectionIdentity | null): void {
    (this.el.querySelector('.auth-banner') as HTMLElement).hidden = identity?.mode !== 'none';
    syncPermissions(this.el.querySelector('.sidebar') as HTMLElement, identity);
  }

  protected override events(): EventMap {
    return {
      'click [data-action="menu"]': () => this.setMenu(this.menuButton.getAttribute('aria-expanded') !== 'true'),
      'click [data-action="close-menu"]': () => this.setMenu(false),
      'click [data-action="palette"]': () => this.props.onOpenPalette(),
      'click [data-action="theme"]': () => this.props.onToggleTheme(),
      'click .sidebar a': () => this.setMenu(false),
      'keydown .sidebar': (e) => {
        if ((e as KeyboardEvent).key === 'Escape') {
          this.setMenu(false);
          this.menuButton.focus();
        }
      },
    };
  }

  /** Marks the current page in the navigation and shows its title. */
  setPage(path: string, title: string): void {
    for (const link of this.el.querySelectorAll<HTMLAnchorElement>('.sidebar a')) {
      if (link.dataset.path === path) {
        link.setAttribute('aria-current', 'page');
      } else {
        link.removeAttribute('aria-current');
      }
    }
    setText(this.el.querySelector('.page-title') as HTMLElement, title);
  }

  private setMenu(open: boolean): void {
    this.menuButton.setAttribute('aria-expanded', String(open));
    this.el.classList.toggle('menu-open', open);
    (this.el.querySelector('.scrim') as HTMLElement).hidden = !open;
    if (open) {
      this.el.querySelector<HTMLElement>('.sidebar a')?.focus();
    }
  }
}
