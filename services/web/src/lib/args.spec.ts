import { describe, expect, it } from 'vitest';
import { joinArgs, splitArgs } from './args.js';

describe('splitArgs / joinArgs', () => {
  it.each([
    ['--flash-attn on', ['--flash-attn', 'on']],
    ['  -t   8\n--mlock ', ['-t', '8', '--mlock']],
    ['--alias "my model" -c 0', ['--alias', 'my model', '-c', '0']],
    ['--x ""', ['--x', '']],
    ['', []],
  ])('%j', (text, tokens) => {
    expect(splitArgs(text)).toEqual(tokens);
    expect(splitArgs(joinArgs(tokens))).toEqual(tokens);
  });
});
