import { describe, expect, it } from 'vitest';
import type { LlamaArg } from './llama.js';
import { extraArgsProblems, presetProblems } from './llama-args.js';

const arg = (key: string, flags: string[], valueType: LlamaArg['valueType'], extra: Partial<LlamaArg> = {}): LlamaArg => ({
  flags,
  key,
  negation: null,
  env: null,
  valueType,
  valueHint: null,
  choices: null,
  default: null,
  help: '',
  section: 'common',
  ...extra,
});
const ARGS = [
  arg('ctx-size', ['-c', '--ctx-size'], 'int', { env: 'LLAMA_ARG_CTX_SIZE' }),
  arg('flash-attn', ['-fa', '--flash-attn'], 'enum', { choices: ['on', 'off', 'auto'] }),
  arg('mmap', ['--mmap', '--no-mmap'], 'flag', { negation: '--no-mmap' }),
  arg('temp', ['--temp'], 'float'),
];

describe(presetProblems.name, () => {
  it('accepts long names, short forms, env names and preset-only keys', () => {
    expect(presetProblems({ global: { c: '2048', LLAMA_ARG_CTX_SIZE: '1', mmap: 'false', 'load-on-startup': 'true' }, sections: [] }, ARGS)).toEqual([]);
  });

  it('names the section, key and reason of each problem', () => {
    expect(
      presetProblems({ global: { 'ctx-size': 'big' }, sections: [{ name: 'm', values: { 'flash-attn': 'maybe', bogus: '1', temp: 'hot' } }] }, ARGS),
    ).toEqual([
      '[*] ctx-size: expects an integer, got "big"',
      '[m] flash-attn: expects one of on, off, auto, got "maybe"',
      '[m] bogus: not an argument of this llama-server',
      '[m] temp: expects a number, got "hot"',
    ]);
  });

  it('checks nothing when the catalogue is not known yet', () => {
    expect(presetProblems({ global: { bogus: '1' }, sections: [] }, null)).toEqual([]);
  });
});

describe(extraArgsProblems.name, () => {
  it('refuses flags the binary does not have, and leaves the policy to extraArgsPolicyProblems', () => {
    expect(extraArgsProblems(['--port', '9', '--nope', '-c', '-1', '--temp=0.5'], [...ARGS, arg('port', ['--port'], 'string')])).toEqual([
      'unknown llama-server argument --nope',
    ]);
  });

  it('does not take a value that starts with "-" for a flag', () => {
    expect(extraArgsProblems(['--temp', '-x'], ARGS)).toEqual([]);
  });

  it('checks nothing when the catalogue is not known yet', () => {
    expect(extraArgsProblems(['--nope'], null)).toEqual([]);
  });
});
