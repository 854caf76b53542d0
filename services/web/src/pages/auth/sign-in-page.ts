import type { AuthSessionInfo } from '@llamaproxy/shared';
import { AuthError, type AuthClient } from '../../core/auth-client.js';
import { Component, type EventMap } from '../../core/component.js';
import { h, setText } from '../../core/dom.js';
import { authScreen } from '../../lib/auth-session.js';
import { errorText } from '../../lib/error-text.js';
import { authField, authFrame } from './auth-frame.js';

export interface SignInPageProps {
  auth: AuthClient;
  /** Shown above the form, e.g. why the user is signed out. */
  notice: string | null;
  onSignedIn(info: AuthSessionInfo): void;
}

/** User name and password (`local` mode). Failures are generic; a rate limit says when to retry. */
export class SignInPage extends Component<SignInPageProps> {
  private username!: HTMLInputElement;
  private password!: HTMLInputElement;
  private submit!: HTMLButtonElement;
  private problem!: HTMLElement;
  private busy = false;
  private blockedUntil = 0;

  protected override render(): HTMLElement {
    this.username = h('input', { id: 'sign-in-username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
    this.password = h('input', { id: 'sign-in-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
    this.submit = h('button', { type: 'submit', class: 'button primary' }, 'Sign in');
    this.problem = h('p', { class: 'problem form-problem', role: 'alert' });
    return authFrame(
      'sign-in',
      'Sign in',
      this.props.notice === null ? null : h('p', { class: 'notice' }, this.props.notice),
      h('form', { class: 'stack', novalidate: true }, authField('User name', this.username), authField('Password', this.password), this.problem, h('div', { class: 'actions' }, this.submit)),
    );
  }

  protected override events(): EventMap {
    return {
      'submit form': (e) => {
        e.preventDefault();
        void this.signIn();
      },
    };
  }

  protected override onMount(): void {
    this.username.focus();
  }

  private async signIn(): Promise<void> {
    const username = this.username.value.trim();
    const password = this.password.value;
    if (this.busy || Date.now() < this.blockedUntil) {
      return;
    }
    if (username === '' || password === '') {
      setText(this.problem, 'Enter your user name and password.');
      (username === '' ? this.username : this.password).focus();
      return;
    }
    this.setBusy(true);
    setText(this.problem, '');
    try {
      const info = await this.props.auth.signIn({ username, password });
      if (authScreen(info) !== 'app') {
        throw new AuthError({ code: 'INVALID_CREDENTIALS', message: 'signed in without a user' }, 200);
      }
      this.props.onSignedIn(info);
    } catch (error) {
      const failure = error instanceof AuthError ? error : new AuthError({ code: 'INTERNAL', message: 'Signing in failed' }, 0);
      setText(this.problem, errorText(failure, 'sign-in'));
      this.password.value = '';
      this.password.focus();
      if (failure.code === 'RATE_LIMITED' && failure.retryAfterMs !== undefined) {
        this.blockFor(failure.retryAfterMs);
      }
    } finally {
      this.setBusy(false);
    }
  }

  /** Keeps the button disabled until the rate limit ends. */
  private blockFor(ms: number): void {
    this.blockedUntil = Date.now() + ms;
    const timer = setTimeout(() => {
      if (!this.isDestroyed) {
        this.setBusy(this.busy);
      }
    }, ms + 50);
    this.own(() => clearTimeout(timer));
  }

  private setBusy(busy: boolean): void {
    this.busy = busy;
    this.submit.disabled = busy || Date.now() < this.blockedUntil;
    setText(this.submit, busy ? 'Signing in…' : 'Sign in');
  }
}
