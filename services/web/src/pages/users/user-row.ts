import type { UserView } from '@llamaproxy/shared';
import { Component } from '../../core/component.js';
import { ROLES } from '../../core/contract.js';
import { h, setText } from '../../core/dom.js';
import { formatDateTime } from '../../lib/format.js';

export interface UserRowProps {
  user: UserView;
  /** The signed-in user's own row. */
  me: boolean;
  /** A change of this user is in flight. */
  busy: boolean;
}

/** What each role may do, in a word, for the role picker. */
export const ROLE_HINT = { viewer: 'read only', operator: 'load models, start and stop', admin: 'everything, users too' } as const satisfies Record<UserView['role'], string>;

/** One user in the Users table. Controls carry `data-action`; the page handles the clicks. */
export class UserRow extends Component<UserRowProps> {
  protected override render(): HTMLElement {
    const name = this.props.user.username;
    return h(
      'tr',
      { 'data-id': this.props.user.id },
      h('td', { class: 'name' }, h('span', { class: 'username' }), ' ', h('span', { class: 'badge me', 'data-tone': 'ok' }, 'you')),
      h(
        'td',
        null,
        h(
          'select',
          { class: 'role', 'data-action': 'role', 'aria-label': `Role of ${name}` },
          ROLES.map((r) => h('option', { value: r }, `${r} (${ROLE_HINT[r]})`)),
        ),
      ),
      h('td', { class: 'origin hide-narrow' }),
      h('td', null, h('span', { class: 'badge status' })),
      h('td', { class: 'created hide-narrow' }),
      h('td', { class: 'last-seen' }),
      h(
        'td',
        { class: 'row-actions' },
        h('button', { type: 'button', class: 'button ghost', 'data-action': 'reset-password', 'aria-label': `Reset the password of ${name}` }, 'Reset password'),
        h('button', { type: 'button', class: 'button ghost', 'data-action': 'toggle-disabled' }),
        h('button', { type: 'button', class: 'button ghost danger', 'data-action': 'delete', 'aria-label': `Delete ${name}` }, 'Delete'),
      ),
    );
  }

  protected override patch(): void {
    const { user, me, busy } = this.props;
    const q = <T extends HTMLElement = HTMLElement>(s: string): T => this.el.querySelector(s) as T;
    setText(q('.username'), user.username);
    q('.me').hidden = !me;
    const role = q<HTMLSelectElement>('.role');
    role.value = user.role;
    role.disabled = busy;
    setText(q('.origin'), user.origin === 'local' ? 'created here' : 'from the proxy');
    const status = q('.status');
    setText(status, user.disabled ? 'disabled' : 'active');
    status.dataset.tone = user.disabled ? 'bad' : 'ok';
    setText(q('.created'), formatDateTime(user.createdAt));
    setText(q('.last-seen'), user.lastSeenAt === null ? 'never' : formatDateTime(user.lastSeenAt));
    // Users from the proxy sign in there: they have no password here.
    q('[data-action="reset-password"]').hidden = user.origin !== 'local';
    const toggle = q<HTMLButtonElement>('[data-action="toggle-disabled"]');
    setText(toggle, user.disabled ? 'Enable' : 'Disable');
    toggle.setAttribute('aria-label', `${user.disabled ? 'Enable' : 'Disable'} ${user.username}`);
    for (const button of this.el.querySelectorAll<HTMLButtonElement>('button')) {
      button.disabled = busy;
    }
  }
}
