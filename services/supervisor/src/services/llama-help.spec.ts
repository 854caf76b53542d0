import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { argValueProblem, argValueRule, indexArgs } from '@llamaproxy/shared';
import { parseLlamaHelp } from './llama-help.js';

// Captured from the llama-server the tests build (node-llama-cpp 3.21.1, commit 80fb11a).
const help = readFileSync(new URL('./__fixtures__/llama-server-help.txt', import.meta.url), 'utf8');

describe(parseLlamaHelp.name, () => {
  const sut = parseLlamaHelp(help);
  const byKey = new Map(sut.map((a) => [a.key, a]));

  it('finds the router flags the supervisor relies on', () => {
    for (const key of ['ctx-size', 'gpu-layers', 'parallel', 'threads-http', 'metrics', 'models-dir', 'models-preset', 'models-max', 'models-autoload']) {
      expect(byKey.has(key), key).toBe(true);
    }
  });

  it.each([
    ['ctx-size', { flags: ['-c', '--ctx-size'], valueType: 'int', env: 'LLAMA_ARG_CTX_SIZE', default: '0, 0 = loaded from model' }],
    ['flash-attn', { flags: ['-fa', '--flash-attn'], valueType: 'enum', choices: ['on', 'off', 'auto'] }],
    ['rope-scaling', { valueType: 'enum', choices: ['none', 'linear', 'yarn'] }],
    ['metrics', { valueType: 'flag', env: 'LLAMA_ARG_ENDPOINT_METRICS' }],
    ['models-autoload', { valueType: 'flag', negation: '--no-models-autoload' }],
    ['kv-offload', { flags: ['-kvo', '--kv-offload', '-nkvo', '--no-kv-offload'], negation: '--no-kv-offload' }],
    ['models-dir', { valueType: 'string', valueHint: 'PATH' }],
  ])('parses %s', (key, expected) => {
    expect(byKey.get(key)).toMatchObject(expected);
  });

  it('keeps multi-line help text and the section', () => {
    const arg = byKey.get('models-max');
    expect(arg?.help).toContain('maximum number of models to load simultaneously');
    expect(arg?.section).toBe('example-specific');
  });

  it('parses entries whose flags overflow the help column', () => {
    expect(byKey.get('cont-batching')?.help).toContain('continuous batching');
  });

  it('indexes every name a flag goes by', () => {
    const index = indexArgs(sut);
    expect(index.get('-ngl')?.key).toBe('gpu-layers');
    expect(index.get('n-gpu-layers')?.key).toBe('gpu-layers');
    expect(index.get('LLAMA_ARG_N_PARALLEL')?.key).toBe('parallel');
    expect(index.get('--no-mmap')).toBeDefined();
  });

  // The value sets of the real binary's --help, as the shared rule reads them (one rule everywhere).
  it.each([
    ['n-gpu-layers', 'count', ['auto', 'all']],
    ['flash-attn', 'toggle', ['on', 'off', 'auto']],
    ['fit', 'toggle', ['on', 'off']],
    ['cache-type-k', 'enum', ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1']],
    ['split-mode', 'enum', ['none', 'layer', 'row', 'tensor']],
    ['reasoning-format', 'enum', ['none', 'deepseek', 'deepseek-legacy', 'auto']],
    ['samplers', 'list', null],
    ['mmap', 'bool', ['true', 'false']],
    ['ctx-size', 'int', null],
  ] as const)('reads the value set of %s from the real --help', (key, kind, choices) => {
    const arg = indexArgs(sut).get(key);
    expect(arg).toBeDefined();
    expect(argValueRule(arg!)).toEqual({ kind, choices });
  });

  it.each([
    ['n-gpu-layers', 'all', null],
    ['n-gpu-layers', 'auto', null],
    ['fa', '1', null],
    ['no-mmap', 'yes', 'expects on/enabled/true/1 or off/disabled/false/0 (llama-server reads nothing else as a boolean), got "yes"'],
    ['mmap', 'False', 'expects on/enabled/true/1 or off/disabled/false/0 (llama-server reads nothing else as a boolean), got "False"'],
  ])('%s = %s → %s', (key, value, problem) => {
    expect(argValueProblem(indexArgs(sut).get(key)!, value)).toBe(problem);
  });
});
