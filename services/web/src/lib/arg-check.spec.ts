import type { LlamaArg } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { argHint, buildArgIndex, presetEntryProblem } from './arg-check.js';

const arg = (flags: string[], valueType: LlamaArg['valueType'], choices: string[] | null = null): LlamaArg => ({
  flags,
  key: flags.at(-1)?.replace(/^-+/, '') ?? '',
  negation: null,
  env: null,
  valueType,
  valueHint: null,
  choices,
  default: null,
  help: 'help text',
  section: 'common',
});

const index = buildArgIndex([arg(['-c', '--ctx-size'], 'int'), arg(['--flash-attn'], 'enum', ['on', 'off', 'auto']), arg(['--mmap'], 'flag')]);

describe('presetEntryProblem', () => {
  it.each([
    ['ctx-size', '4096', null],
    ['c', '4096', null],
    ['ctx-size', 'big', 'expects an integer, got "big"'],
    ['flash-attn', 'maybe', 'expects one of on, off, auto, got "maybe"'],
    ['mmap', 'true', null],
    ['load-on-startup', 'true', null],
    ['no-such-flag', '1', 'not an argument of this llama-server'],
    ['--ctx-size', '1', 'keys are flag names without dashes, e.g. ctx-size'],
    ['', '1', 'the key is empty'],
  ])('%s = %s → %s', (key, value, problem) => {
    expect(presetEntryProblem(key, value, index, false)).toBe(problem);
  });

  it('accepts a model path only in custom entries', () => {
    expect(presetEntryProblem('model', '/models/x.gguf', index, true)).toBeNull();
    expect(presetEntryProblem('model', '', index, true)).not.toBeNull();
    expect(presetEntryProblem('model', '/x.gguf', index, false)).toBe('not an argument of this llama-server');
  });

  it('refuses what the flag policy the supervisor published refuses', () => {
    const args = [arg(['-c', '--ctx-size'], 'int'), arg(['--log-file'], 'string'), arg(['-m', '--model'], 'string'), arg(['--lora'], 'string')];
    const withPolicy = buildArgIndex(args, { modelsDir: '/models', allow: [] });
    expect(presetEntryProblem('log-file', '/models/x.gguf', withPolicy, false)).toBe('not allowed: it writes files on the host');
    expect(presetEntryProblem('model', '/etc/passwd', withPolicy, true)).toBe('"/etc/passwd" is outside the models directory /models');
    expect(presetEntryProblem('lora', 'adapters/a.gguf', withPolicy, false)).toBeNull();
    expect(presetEntryProblem('ctx-size', '4096', withPolicy, false)).toBeNull();
    expect(presetEntryProblem('log-file', '/tmp/l.log', buildArgIndex(args, { modelsDir: '/models', allow: ['log-file'] }), false)).toBeNull();
    // Without a published policy the supervisor alone judges it.
    expect(presetEntryProblem('log-file', '/models/x.gguf', buildArgIndex(args), false)).toBeNull();
  });

  it('checks only the syntax without a catalogue', () => {
    expect(presetEntryProblem('anything', 'x', null, false)).toBeNull();
  });

  it('suggests catalogue and preset-only keys, and explains them', () => {
    expect(index.keys).toEqual(expect.arrayContaining(['ctx-size', 'flash-attn', 'load-on-startup']));
    expect(argHint('flash-attn', index)).toContain('one of on, off, auto');
  });
});
