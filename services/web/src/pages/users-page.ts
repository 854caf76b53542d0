import type { Role, SessionView, UserView } from '@llamaproxy/shared';
import { PasswordDialog } from '../components/password-dialog.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { ROLES } from '../core/contract.js';
import { h, setText, valueOf } from '../core/dom.js';
import { KeyedList } from '../core/keyed-list.js';
import { errorMessage } from '../core/transport.js';
import { newPasswordProblem, usernameProblem } from '../lib/credential-rules.js';
import { SessionRow, type SessionRowProps } from './users/session-row.js';
import { ROLE_HINT, UserRow, type UserRowProps } from './users/user-row.js';

/**
 * Admins manage the users (create, role, disable, password, delete) and the sign-in sessions.
 * There are no broadcasts for these lists: the page asks again after each change, and on
 * "Refresh".
 */
export class UsersPage extends Component<AppContext> {
  private users: UserView[] = [];
  private sessions: SessionView[] = [];
  private readonly busy = new Set<string>();
  private userRows!: KeyedList<UserRowProps>;
  private sessionRows!: KeyedList<SessionRowProps>;
  private problem!: HTMLElement;
  private createProblem!: HTMLElement;

  protected override render(): HTMLElement {
    const userBody = h('tbody');
    const sessionBody = h('tbody');
    this.problem = h('p', { class: 'problem form-problem', role: 'alert' });
    this.createProblem = h('p', { class: 'problem form-problem', role: 'alert' });
    const th = (label: string, className?: string) => h('th', { scope: 'col', class: className }, label);
    const page = h(
      'div',
      { class: 'page', 'data-page': 'users' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'users-title' },
        h(
          'div',
          { class: 'card-header' },
          h('h2', { id: 'users-title' }, 'Users'),
          h('button', { type: 'button', class: 'button ghost', 'data-action': 'refresh' }, 'Refresh'),
        ),
        this.problem,
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table users-table' },
            h('thead', null, h('tr', null, th('Name'), th('Role'), th('Origin', 'hide-narrow'), th('Status'), th('Created', 'hide-narrow'), th('Last seen'), th('Actions'))),
            userBody,
          ),
        ),
        h('p', { class: 'empty users-empty muted' }, 'Loading…'),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'create-user-title' },
        h('h2', { id: 'create-user-title' }, 'Add a user'),
        h(
          'form',
          { class: 'create-user', novalidate: true },
          h(
            'div',
            { class: 'form-grid' },
            h('div', { class: 'field' }, h('label', { for: 'new-username' }, 'User name'), h('input', { id: 'new-username', name: 'username', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' })),
            h(
              'div',
              { class: 'field' },
              h('label', { for: 'new-password' }, 'Password'),
              h('input', { id: 'new-password', name: 'password', type: 'password', autocomplete: 'new-password', 'aria-describedby': 'new-password-hint' }),
              h('span', { class: 'hint', id: 'new-password-hint' }, 'At least 10 characters; tell it to the user'),
            ),
            h(
              'div',
              { class: 'field' },
              h('label', { for: 'new-role' }, 'Role'),
              h('select', { id: 'new-role', name: 'role' }, ROLES.map((r) => h('option', { value: r }, `${r} (${ROLE_HINT[r]})`))),
            ),
          ),
          this.createProblem,
          h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add user')),
        ),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'sessions-title' },
        h('h2', { id: 'sessions-title' }, 'Sessions'),
        h('p', { class: 'muted' }, 'Who is signed in, and from where. Revoking a session signs that browser out.'),
        h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'table sessions-table' },
            h(
              'thead',
              null,
              h('tr', null, th('User'), th('Address'), th('Browser', 'hide-narrow'), th('Signed in', 'hide-narrow'), th('Last seen'), th('Expires', 'hide-narrow'), th('')),
            ),
            sessionBody,
          ),
        ),
        h('p', { class: 'empty sessions-empty muted' }, 'Loading…'),
      ),
    );
    this.userRows = new KeyedList(userBody, (p) => p.user.id, (p) => new UserRow(p));
    this.sessionRows = new KeyedList(sessionBody, (p) => p.session.handle, (p) => new SessionRow(p));
    this.own(() => {
      this.userRows.clear();
      this.sessionRows.clear();
    });
    return page;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="refresh"]': () => void this.reload(),
      'change [data-action="role"]': (_e, select) => void this.changeRole(this.userOf(select), valueOf(select) as Role),
      'click [data-action="toggle-disabled"]': (_e, button) => void this.toggleDisabled(this.userOf(button)),
      'click [data-action="reset-password"]': (_e, button) => this.resetPassword(this.userOf(button)),
      'click [data-action="delete"]': (_e, button) => void this.remove(this.userOf(button)),
      'click [data-action="revoke"]': (_e, button) => void this.revoke(button.closest('tr')?.dataset.handle),
      'submit .create-user': (e) => {
        e.preventDefault();
        void this.create();
      },
    };
  }

  protected override onMount(): void {
    void this.reload();
  }

  private get myId(): string | null {
    return this.props.store.get('identity')?.user?.id ?? null;
  }

  private userOf(el: HTMLElement): UserView | undefined {
    const id = el.closest('tr')?.dataset.id;
    return this.users.find((u) => u.id === id);
  }

  /** Both lists, fresh from the gateway. */
  private async reload(): Promise<void> {
    const { store } = this.props;
    try {
      const [users, sessions] = await Promise.all([store.request('users:list', {}), store.request('sessions:list', {})]);
      if (this.isDestroyed) {
        return;
      }
      this.users = [...users.users].sort((a, b) => a.username.localeCompare(b.username));
      this.sessions = [...sessions.sessions].sort((a, b) => a.username.localeCompare(b.username) || b.lastSeenAt - a.lastSeenAt);
      this.show();
    } catch (error) {
      this.fail(error, 'Loading the users');
    }
  }

  private show(): void {
    const me = this.myId;
    this.userRows.reconcile(this.users.map((user) => ({ user, me: user.id === me, busy: this.busy.has(user.id) })));
    this.sessionRows.reconcile(this.sessions.map((session) => ({ session, busy: this.busy.has(session.handle) })));
    const users = this.el.querySelector('.users-empty') as HTMLElement;
    users.hidden = this.users.length > 0;
    setText(users, 'No user yet.');
    const sessions = this.el.querySelector('.sessions-empty') as HTMLElement;
    sessions.hidden = this.sessions.length > 0;
    setText(sessions, 'Nobody is signed in.');
  }

  /** Runs one change with its key marked busy, shows a failure, then asks for both lists again. */
  private async change(key: string, label: string, send: () => Promise<unknown>): Promise<boolean> {
    this.busy.add(key);
    this.show();
    setText(this.problem, '');
    let ok = true;
    try {
      await send();
    } catch (error) {
      ok = false;
      this.fail(error, label);
    } finally {
      this.busy.delete(key);
    }
    if (!this.isDestroyed) {
      await this.reload();
    }
    return ok;
  }

  private fail(error: unknown, label: string): void {
    const message = `${label}: ${errorMessage(error)}`;
    if (!this.isDestroyed) {
      setText(this.problem, message);
    }
    this.props.toasts.error(message);
  }

  private async changeRole(user: UserView | undefined, role: Role): Promise<void> {
    if (user === undefined || role === user.role) {
      return;
    }
    if (user.id === this.myId && !confirm(`Change your own role to ${role}? You lose what only ${user.role}s may do, this page too.`)) {
      this.show();
      return;
    }
    const ok = await this.change(user.id, `Changing the role of ${user.username}`, () => this.props.store.request('users:update', { userId: user.id, role }));
    if (ok) {
      this.props.toasts.success(`${user.username} is now ${role}`);
    }
  }

  private async toggleDisabled(user: UserView | undefined): Promise<void> {
    if (user === undefined) {
      return;
    }
    const disabled = !user.disabled;
    if (disabled && !confirm(`Disable ${user.username}? Their sessions end and they cannot sign in until enabled again.`)) {
      return;
    }
    const ok = await this.change(user.id, `${disabled ? 'Disabling' : 'Enabling'} ${user.username}`, () => this.props.store.request('users:update', { userId: user.id, disabled }));
    if (ok) {
      this.props.toasts.success(`${user.username} is ${disabled ? 'disabled' : 'enabled'}`);
    }
  }

  private resetPassword(user: UserView | undefined): void {
    if (user === undefined) {
      return;
    }
    new PasswordDialog({
      title: `New password for ${user.username}`,
      askCurrent: false,
      submitLabel: 'Set password',
      onSubmit: async (password) => {
        try {
          await this.props.store.request('users:password:reset', { userId: user.id, password });
        } catch (error) {
          return errorMessage(error);
        }
        this.props.toasts.success(`Password of ${user.username} changed; their sessions ended`);
        void this.reload();
        return null;
      },
    }).open();
  }

  private async remove(user: UserView | undefined): Promise<void> {
    if (user === undefined || !confirm(`Delete ${user.username}? Their sessions end. This cannot be undone.`)) {
      return;
    }
    const ok = await this.change(user.id, `Deleting ${user.username}`, () => this.props.store.request('users:delete', { userId: user.id }));
    if (ok) {
      this.props.toasts.success(`${user.username} deleted`);
    }
  }

  private async revoke(handle: string | undefined): Promise<void> {
    const session = this.sessions.find((s) => s.handle === handle);
    if (session === undefined) {
      return;
    }
    if (session.current && !confirm('This is your own session: revoking it signs you out here. Continue?')) {
      return;
    }
    const ok = await this.change(session.handle, `Revoking the session of ${session.username}`, () => this.props.store.request('sessions:revoke', { handle: session.handle }));
    if (ok) {
      this.props.toasts.success(`Session of ${session.username} revoked`);
    }
  }

  private async create(): Promise<void> {
    const form = this.el.querySelector('.create-user') as HTMLFormElement;
    const field = (name: string): HTMLInputElement => form.elements.namedItem(name) as HTMLInputElement;
    const username = field('username').value.trim();
    const password = field('password').value;
    const role = valueOf(field('role')) as Role;
    const problem = usernameProblem(username) ?? newPasswordProblem(password, password);
    setText(this.createProblem, problem ?? '');
    if (problem !== null) {
      return;
    }
    const submit = form.querySelector('[type="submit"]') as HTMLButtonElement;
    submit.disabled = true;
    try {
      await this.props.store.request('users:create', { username, password, role });
      form.reset();
      this.props.toasts.success(`${username} added as ${role}`);
      await this.reload();
    } catch (error) {
      setText(this.createProblem, errorMessage(error));
    } finally {
      submit.disabled = false;
    }
  }
}
