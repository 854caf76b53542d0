/**
 * What to tell the user about a failed request, from its stable error code. Sign-in failures
 * stay generic (the same words for a wrong name and a wrong password).
 */
export interface FailureInfo {
  code: string;
  message: string;
  retryAfterMs?: number | undefined;
}

/** Where the failure happened, when that changes the words. */
export type FailureContext = 'sign-in' | 'setup' | 'password' | 'request';

/** "12 s", "3 min", "2 h": rounded up, so a retry after the time shown succeeds. */
export function formatWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.ceil(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.ceil(minutes / 60)} h`;
}

export function errorText(failure: FailureInfo, context: FailureContext = 'request'): string {
  switch (failure.code) {
    case 'INVALID_CREDENTIALS':
      return context === 'password' ? 'The current password is wrong.' : 'Wrong user name or password.';
    case 'RATE_LIMITED':
      return failure.retryAfterMs === undefined ? 'Too many attempts. Wait a moment and try again.' : `Too many attempts. Try again in ${formatWait(failure.retryAfterMs)}.`;
    case 'ORIGIN_NOT_ALLOWED':
      return 'The gateway refuses requests from this page’s address (add it to ALLOWED_ORIGINS).';
    case 'SETUP_UNAVAILABLE':
      return 'The setup token is wrong, or an admin exists already (then sign in instead).';
    case 'UNAUTHENTICATED':
      return 'You are signed out. Sign in again.';
    case 'FORBIDDEN':
      return 'Your role does not allow this.';
    case 'LAST_ADMIN':
      return 'The last admin cannot be removed, disabled or demoted.';
    case 'USER_EXISTS':
      return 'A user with that name exists already.';
    case 'USER_NOT_FOUND':
      return 'That user does not exist (any more).';
    case 'SESSION_NOT_FOUND':
      return 'That session has ended already.';
    case 'NETWORK':
      return 'The gateway cannot be reached. Try again in a moment.';
    default:
      return failure.message;
  }
}
