import { describe, expect, it } from 'vitest';
import { errorText, formatWait } from './error-text.js';

describe('formatWait', () => {
  it.each([
    [0, '1 s'],
    [400, '1 s'],
    [1000, '1 s'],
    [1001, '2 s'],
    [59_000, '59 s'],
    [60_000, '1 min'],
    [61_000, '2 min'],
    [3_600_000, '1 h'],
    [3_600_001, '2 h'],
  ])('%i ms → %s', (ms, expected) => {
    expect(formatWait(ms)).toBe(expected);
  });
});

describe('errorText', () => {
  it('says the same for a wrong user name and a wrong password', () => {
    expect(errorText({ code: 'INVALID_CREDENTIALS', message: 'no such user: bob' }, 'sign-in')).toBe('Wrong user name or password.');
    expect(errorText({ code: 'INVALID_CREDENTIALS', message: 'bad password' }, 'sign-in')).toBe('Wrong user name or password.');
  });

  it('names the current password when changing it', () => {
    expect(errorText({ code: 'INVALID_CREDENTIALS', message: 'x' }, 'password')).toBe('The current password is wrong.');
  });

  it('gives the retry time of a rate limit', () => {
    expect(errorText({ code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 90_000 }, 'sign-in')).toBe('Too many attempts. Try again in 2 min.');
    expect(errorText({ code: 'RATE_LIMITED', message: 'slow down' })).toBe('Too many attempts. Wait a moment and try again.');
  });

  it('explains LAST_ADMIN and keeps the server message for codes without words of their own', () => {
    expect(errorText({ code: 'LAST_ADMIN', message: 'x' })).toBe('The last admin cannot be removed, disabled or demoted.');
    expect(errorText({ code: 'VALIDATION_FAILED', message: 'password: at least 10 characters' })).toBe('password: at least 10 characters');
  });
});
