/**
 * Starts the app: asks the gateway who the browser is (GET /api/auth/session) before opening the
 * socket, then shows the signed-in app, the sign-in page, the first-admin setup, or why it cannot
 * start. The session is asked again whenever the server ends the socket or refuses it.
 */
import type { AuthSessionInfo } from '@llamaproxy/shared';
import { AuthClient, AuthError } from './core/auth-client.js';
import { basePathFrom } from './core/base-path.js';
import type { Mountable } from './core/component.js';
import { authScreen } from './lib/auth-session.js';
import { errorText } from './lib/error-text.js';
import { MainApp } from './main-app.js';
import { MessagePage } from './pages/auth/message-page.js';
import { SignInPage } from './pages/auth/sign-in-page.js';

export function startApp(root: HTMLElement): void {
  const base = basePathFrom(document.baseURI);
  const auth = new AuthClient(base);
  let app: MainApp | null = null;
  let screen: Mountable | null = null;
  let checking = false;

  const showScreen = (next: Mountable): void => {
    app?.suspend();
    screen?.destroy();
    root.replaceChildren();
    screen = next;
    next.mount(root);
  };

  /** `notice`: shown above the sign-in form. */
  const enter = async (info: AuthSessionInfo, notice: string | null = null): Promise<void> => {
    const kind = authScreen(info);
    switch (kind) {
      case 'app':
        screen?.destroy();
        screen = null;
        if (app === null) {
          app = new MainApp({ root, base, auth, checkSession: (signedOut) => void check(signedOut) }, info);
        } else {
          app.resume(info);
        }
        return;
      case 'sign-in':
        showScreen(
          new SignInPage({
            auth,
            notice,
            onSignedIn: (signedIn) => void enter(signedIn),
          }),
        );
        return;
      case 'setup': {
        const { SetupPage } = await import('./pages/auth/setup-page.js');
        showScreen(new SetupPage({ auth, onSignedIn: (signedIn) => void enter(signedIn) }));
        return;
      }
      case 'unidentified':
        showScreen(
          new MessagePage({
            pageId: 'unidentified',
            title: 'Your reverse proxy did not identify you',
            paragraphs: [
              'Sign-in is done by the reverse proxy in front of Llama Proxy (AUTH_MODE=proxy), but this request reached the gateway without a user name from it.',
              'Sign in through the proxy, or ask whoever runs it to pass the user header to the gateway.',
            ],
            actionLabel: 'Try again',
            onAction: () => void check(),
          }),
        );
        return;
    }
  };

  /** Asks for the session and shows what fits; a failure shows why, with a way to try again. */
  const check = async (signedOut = false): Promise<void> => {
    if (checking) {
      return;
    }
    checking = true;
    // Signed out while using the app without asking for it: the session ended or was revoked.
    const notice = app !== null && !signedOut ? 'Your session ended. Sign in again.' : null;
    try {
      await enter(await auth.session(), notice);
    } catch (error) {
      if (app?.isActive === true) {
        // The gateway is away (restarting?): the app stays, the socket retries with backoff and
        // a refusal asks again.
        app.reconnect();
      } else {
        showScreen(unreachable(error, () => void check()));
      }
    } finally {
      checking = false;
    }
  };

  void check();
}

function unreachable(error: unknown, retry: () => void): MessagePage {
  const reason = error instanceof AuthError ? errorText(error) : error instanceof Error ? error.message : 'Unexpected error';
  return new MessagePage({
    pageId: 'unreachable',
    title: 'The gateway does not answer',
    paragraphs: [
      reason,
      'The dashboard asks the gateway who you are (through this web server’s /api/ route) before it connects. Check that the gateway is running and that the web server forwards /api/ to it.',
    ],
    actionLabel: 'Try again',
    onAction: retry,
  });
}
