import type { LlamaArg, PresetDocument } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { argHint, argValueChoices, buildArgIndex, presetDocumentProblems, presetEntryProblem } from './arg-check.js';

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
    // llama-server's own rules: one boolean rule, ";" and "#" end a value, keys start with a letter.
    ['mmap', 'no', 'expects on/enabled/true/1 or off/disabled/false/0 (llama-server reads nothing else as a boolean), got "no"'],
    ['no-mmap', 'yes', 'not an argument of this llama-server'],
    ['flash-attn', '1', null],
    ['load-on-startup', 'yes', 'expects true or false (llama-server reads anything but on/enabled/true/1 as false), got "yes"'],
    ['4bit', '1', 'a key cannot start with a digit (llama-server would refuse the whole preset file)'],
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

  it('refuses a value llama-server would cut at ";" and offers only valid values', () => {
    expect(presetEntryProblem('samplers', 'top_k;top_p', null, false)).toMatch(/only "top_k"/);
    const ngl = buildArgIndex([{ ...arg(['-ngl', '--n-gpu-layers'], 'int'), help: "either an exact number, 'auto', or 'all' (default: auto)" }]);
    expect(presetEntryProblem('n-gpu-layers', 'all', ngl, false)).toBeNull();
    expect(presetEntryProblem('ngl', 'auto', ngl, false)).toBeNull();
    expect(argValueChoices('n-gpu-layers', ngl)).toEqual(['auto', 'all']);
    expect(argValueChoices('flash-attn', index)).toEqual(['on', 'off', 'auto']);
    expect(argValueChoices('load-on-startup', null)).toEqual(['true', 'false']);
  });

  it('checks only the syntax without a catalogue', () => {
    expect(presetEntryProblem('anything', 'x', null, false)).toBeNull();
  });

  it('suggests catalogue and preset-only keys, and explains them', () => {
    expect(index.keys).toEqual(expect.arrayContaining(['ctx-size', 'flash-attn', 'load-on-startup']));
    expect(argHint('flash-attn', index)).toContain('one of on, off, auto');
  });
});

describe('presetDocumentProblems', () => {
  it('applies the row rule to every section of a raw INI document', () => {
    const doc: PresetDocument = { global: { mmap: 'no' }, sections: [{ name: 'known', values: { model: '/m.gguf' } }, { name: 'custom', values: { model: '/m.gguf', 'flash-attn': '1' } }] };
    expect(presetDocumentProblems(doc, index, new Set(['known']))).toEqual([
      '[*] mmap: expects on/enabled/true/1 or off/disabled/false/0 (llama-server reads nothing else as a boolean), got "no"',
      '[known] model: not an argument of this llama-server',
    ]);
  });
});
