import { describe, expect, it } from 'vitest';
import { fuzzyFilter, fuzzyScore } from './fuzzy.js';

describe('fuzzyScore', () => {
  it('matches subsequences case-insensitively and rejects the rest', () => {
    expect(fuzzyScore('gomo', 'Go to Models')).not.toBeNull();
    expect(fuzzyScore('xyz', 'Go to Models')).toBeNull();
    expect(fuzzyScore('', 'anything')).toBe(0);
  });
});

describe('fuzzyFilter', () => {
  const commands = [
    { group: 'General', title: 'Toggle dark mode' },
    { group: 'Navigate', title: 'Go to Models' },
    { group: 'Navigate', title: 'Go to Logs' },
    { group: 'Models', title: 'Unload llama-3b' },
  ];
  const best = (q: string) => fuzzyFilter(commands, q, (c) => c.title, (c) => c.group)[0]?.title;

  it.each([
    ['go mod', 'Go to Models'],
    ['logs', 'Go to Logs'],
    ['dark', 'Toggle dark mode'],
    ['unl', 'Unload llama-3b'],
  ])('%s → %s', (query, title) => {
    expect(best(query)).toBe(title);
  });

  it('falls back to the group for matches', () => {
    expect(fuzzyFilter(commands, 'navigate', (c) => c.title, (c) => c.group)).toHaveLength(2);
  });
});
