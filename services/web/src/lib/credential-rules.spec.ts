import { describe, expect, it } from 'vitest';
import { newPasswordProblem, usernameProblem } from './credential-rules.js';

describe('newPasswordProblem', () => {
  it.each([
    ['correct horse', 'correct horse', null],
    ['short', 'short', 'Password: at least 10 characters'],
    ['correct horse', 'correct horsf', 'The two passwords differ'],
    ['x'.repeat(257), 'x'.repeat(257), expect.stringMatching(/^Password: /)],
  ])('%s / %s → %s', (password, again, expected) => {
    expect(newPasswordProblem(password, again)).toEqual(expected);
  });
});

describe('usernameProblem', () => {
  it.each([
    ['alice', null],
    ['alice@example.com', null],
    ['', 'User name: required'],
    ['-alice', expect.stringMatching(/^User name: letters, digits/)],
    ['al ice', expect.stringMatching(/^User name: letters, digits/)],
  ])('%j → %s', (name, expected) => {
    expect(usernameProblem(name)).toEqual(expected);
  });
});
