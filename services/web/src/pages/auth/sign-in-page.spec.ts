// @vitest-environment happy-dom
import type { AuthSessionInfo } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuthClient, AuthError } from '../../core/auth-client.js';
import { SignInPage } from './sign-in-page.js';

const alice: AuthSessionInfo = { mode: 'local', user: { id: 'u1', username: 'alice', role: 'viewer' }, setupRequired: false };

function mount(signIn: () => Promise<AuthSessionInfo>) {
  const auth = new AuthClient('/');
  const signInSpy = vi.spyOn(auth, 'signIn').mockImplementation(signIn);
  const onSignedIn = vi.fn();
  const sut = new SignInPage({ auth, notice: null, onSignedIn }).mount(document.body);
  const submit = (username = 'alice', password = 'secret') => {
    (sut.el.querySelector('#sign-in-username') as HTMLInputElement).value = username;
    (sut.el.querySelector('#sign-in-password') as HTMLInputElement).value = password;
    (sut.el.querySelector('form') as HTMLFormElement).dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  };
  const problem = () => sut.el.querySelector('[role="alert"]')?.textContent;
  const button = () => sut.el.querySelector('button[type="submit"]') as HTMLButtonElement;
  return { sut, signInSpy, onSignedIn, submit, problem, button };
}

describe(SignInPage.name, () => {
  let destroy: (() => void) | undefined;

  afterEach(() => {
    destroy?.();
    vi.useRealTimers();
  });

  it('hands the session on after a successful sign-in', async () => {
    const page = mount(async () => alice);
    destroy = () => page.sut.destroy();
    page.submit();
    await vi.waitFor(() => expect(page.onSignedIn).toHaveBeenCalledWith(alice));
  });

  it('asks for both fields before sending anything', () => {
    const page = mount(async () => alice);
    destroy = () => page.sut.destroy();
    page.submit('', '');
    expect(page.problem()).toBe('Enter your user name and password.');
    expect(page.signInSpy).not.toHaveBeenCalled();
  });

  it('says the same generic words for any wrong credential and clears the password', async () => {
    const page = mount(async () => {
      throw new AuthError({ code: 'INVALID_CREDENTIALS', message: 'no such user alice' }, 401);
    });
    destroy = () => page.sut.destroy();
    page.submit();
    await vi.waitFor(() => expect(page.problem()).toBe('Wrong user name or password.'));
    expect((page.sut.el.querySelector('#sign-in-password') as HTMLInputElement).value).toBe('');
    expect(page.onSignedIn).not.toHaveBeenCalled();
  });

  it('shows the retry time of a rate limit and keeps the button disabled until then', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'Date'] });
    const page = mount(async () => {
      throw new AuthError({ code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 42_000 }, 429);
    });
    destroy = () => page.sut.destroy();
    page.submit();
    await vi.waitFor(() => expect(page.problem()).toBe('Too many attempts. Try again in 42 s.'));
    expect(page.button().disabled).toBe(true);
    await vi.advanceTimersByTimeAsync(42_100);
    expect(page.button().disabled).toBe(false);
  });
});
