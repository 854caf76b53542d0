import type { ConnectionIdentity } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import type { StateManager } from '../core/state-manager.js';

export interface UserMenuProps {
  store: StateManager;
  onChangePassword(): void;
  onSignOut(everywhere: boolean): void;
}

/**
 * The signed-in user's name and role in the top bar, with a menu: change password, sign out,
 * sign out everywhere (`local` mode; behind a proxy the proxy signs people in and out).
 */
export class UserMenu extends Component<UserMenuProps> {
  private details!: HTMLDetailsElement;

  protected override render(): HTMLElement {
    const item = (action: string, label: string) => h('li', null, h('button', { type: 'button', class: 'menu-item', 'data-action': action }, label));
    this.details = h(
      'details',
      { class: 'user-menu' },
      h('summary', { class: 'button ghost', 'aria-label': 'Account' }, h('span', { class: 'user-name' }), h('span', { class: 'badge role' })),
      h(
        'ul',
        { class: 'menu plain-list' },
        item('password', 'Change password'),
        item('sign-out', 'Sign out'),
        item('sign-out-all', 'Sign out everywhere'),
      ),
    );
    return this.details;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="password"]': () => this.run(() => this.props.onChangePassword()),
      'click [data-action="sign-out"]': () => this.run(() => this.props.onSignOut(false)),
      'click [data-action="sign-out-all"]': () => this.run(() => this.props.onSignOut(true)),
      keydown: (e) => {
        if ((e as KeyboardEvent).key === 'Escape' && this.details.open) {
          this.details.open = false;
          this.details.querySelector('summary')?.focus();
        }
      },
    };
  }

  protected override onMount(): void {
    this.own(this.props.store.subscribe('identity', (identity) => this.show(identity), true));
    this.listen(document, 'click', (e) => {
      if (this.details.open && !this.details.contains(e.target as Node | null)) {
        this.details.open = false;
      }
    });
  }

  private run(action: () => void): void {
    this.details.open = false;
    action();
  }

  private show(identity: ConnectionIdentity | null): void {
    const user = identity?.user ?? null;
    this.details.hidden = user === null;
    if (identity === null || user === null) {
      return;
    }
    setText(this.details.querySelector('.user-name') as HTMLElement, user.username);
    setText(this.details.querySelector('.role') as HTMLElement, identity.role);
    const local = identity.mode === 'local';
    for (const action of ['password', 'sign-out', 'sign-out-all']) {
      (this.details.querySelector(`[data-action="${action}"]`)?.parentElement as HTMLElement).hidden = !local;
    }
    // Behind a proxy there is nothing to choose: no menu to open.
    this.details.classList.toggle('no-menu', !local);
  }
}
