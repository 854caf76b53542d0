import type { AuthSessionInfo } from '@llamaproxy/shared';
import { AuthError, type AuthClient } from '../../core/auth-client.js';
import { Component, type EventMap } from '../../core/component.js';
import { h, setText } from '../../core/dom.js';
import { authScreen } from '../../lib/auth-session.js';
import { newPasswordProblem, usernameProblem } from '../../lib/credential-rules.js';
import { errorText } from '../../lib/error-text.js';
import { authField, authFrame } from './auth-frame.js';

export interface SetupPageProps {
  auth: AuthClient;
  onSignedIn(info: AuthSessionInfo): void;
}

/** The command that shows the one-time token the gateway logs at start while no user exists. */
export const SETUP_TOKEN_COMMAND = 'docker compose logs gateway | grep setup';

/** First run in `local` mode: the setup token from the gateway's log creates the first admin. */
export class SetupPage extends Component<SetupPageProps> {
  private token!: HTMLInputElement;
  private username!: HTMLInputElement;
  private password!: HTMLInputElement;
  private again!: HTMLInputElement;
  private submit!: HTMLButtonElement;
  private problem!: HTMLElement;

  protected override render(): HTMLElement {
    this.token = h('input', { id: 'setup-token', name: 'token', autocomplete: 'off', spellcheck: 'false', class: 'mono', required: true });
    this.username = h('input', { id: 'setup-username', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
    this.password = h('input', { id: 'setup-password', name: 'password', type: 'password', autocomplete: 'new-password', required: true });
    this.again = h('input', { id: 'setup-again', name: 'again', type: 'password', autocomplete: 'new-password', required: true });
    this.submit = h('button', { type: 'submit', class: 'button primary' }, 'Create the admin');
    this.problem = h('p', { class: 'problem form-problem', role: 'alert' });
    return authFrame(
      'setup',
      'Create the first admin',
      h('p', null, 'Nobody can sign in yet. When the gateway starts without users it prints a one-time setup token in its log; read it with:'),
      h('pre', { class: 'command' }, h('code', null, SETUP_TOKEN_COMMAND)),
      h('p', { class: 'muted' }, 'The token works once. The admin you create here can then add the other users.'),
      h(
        'form',
        { class: 'stack', novalidate: true },
        authField('Setup token', this.token),
        authField('User name', this.username, 'Letters, digits and _ . @ + -'),
        authField('Password', this.password, 'At least 10 characters'),
        authField('Password again', this.again),
        this.problem,
        h('div', { class: 'actions' }, this.submit),
      ),
    );
  }

  protected override events(): EventMap {
    return {
      'submit form': (e) => {
        e.preventDefault();
        void this.create();
      },
    };
  }

  protected override onMount(): void {
    this.token.focus();
  }

  private async create(): Promise<void> {
    const token = this.token.value.trim();
    const username = this.username.value.trim();
    const problem = (token === '' ? 'Setup token: required' : null) ?? usernameProblem(username) ?? newPasswordProblem(this.password.value, this.again.value);
    setText(this.problem, problem ?? '');
    if (problem !== null) {
      return;
    }
    this.submit.disabled = true;
    setText(this.submit, 'Creating…');
    try {
      const info = await this.props.auth.setup({ token, username, password: this.password.value });
      if (authScreen(info) !== 'app') {
        throw new AuthError({ code: 'INTERNAL', message: 'The admin was created but is not signed in. Sign in.' }, 200);
      }
      this.props.onSignedIn(info);
    } catch (error) {
      setText(this.problem, error instanceof AuthError ? errorText(error, 'setup') : 'Creating the admin failed');
    } finally {
      if (!this.isDestroyed) {
        this.submit.disabled = false;
        setText(this.submit, 'Create the admin');
      }
    }
  }
}
