import { describe, expect, it } from 'vitest';
import type { LlamaArg } from './llama.js';
import type { PresetDocument } from './presets.js';
import { argValueProblem, argValueRule, extraArgsProblems, presetProblems, presetSourceProblems } from './llama-args.js';

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
  // Help texts as the real `llama-server --help` prints them (services/supervisor/src/services/__fixtures__).
  arg('n-gpu-layers', ['-ngl', '--gpu-layers', '--n-gpu-layers'], 'int', {
    valueHint: 'N',
    help: "max. number of layers to store in VRAM, either an exact number, 'auto', or 'all' (default: auto)",
  }),
  arg('fit', ['-fit', '--fit'], 'enum', { choices: ['on', 'off'] }),
  arg('cache-type-k', ['-ctk', '--cache-type-k'], 'string', {
    help: 'KV cache data type for K allowed values: f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1 (default: f16)',
  }),
  arg('reasoning-format', ['--reasoning-format'], 'string', {
    help: "controls whether thought tags are allowed; one of: - none: leaves thoughts unparsed in `message.content` - deepseek: puts thoughts in `message.reasoning_content` - deepseek-legacy: keeps `<think>` tags (default: auto)",
  }),
  arg('samplers', ['--samplers'], 'string', { help: "samplers that will be used for generation in the order, separated by ';' (default: penalties;dry)" }),
  arg('model', ['-m', '--model'], 'string', { env: 'LLAMA_ARG_MODEL' }),
  arg('hf-repo', ['-hf', '-hfr', '--hf-repo'], 'string', { env: 'LLAMA_ARG_HF_REPO' }),
];

describe(presetProblems.name, () => {
  it('accepts long names, short forms, env names and preset-only keys', () => {
    // One name per section: two names of one argument in a section are refused (see below).
    expect(
      presetProblems(
        { global: { c: '2048', mmap: 'false', 'load-on-startup': 'true' }, sections: [{ name: 'm', values: { LLAMA_ARG_CTX_SIZE: '1' } }] },
        ARGS,
      ),
    ).toEqual([]);
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

describe(argValueProblem.name, () => {
  const byKey = (key: string): LlamaArg => ARGS.find((a) => a.key === key) ?? ARGS[0]!;

  it.each([
    // [key, value, accepted]: llama.cpp's handlers are the reference (common/arg.cpp).
    ['n-gpu-layers', 'all', true],
    ['n-gpu-layers', 'auto', true],
    ['n-gpu-layers', '99', true],
    ['n-gpu-layers', 'many', false],
    ['flash-attn', '1', true],
    ['flash-attn', 'enabled', true],
    ['flash-attn', '-1', true],
    ['flash-attn', 'yes', false],
    ['fit', 'auto', false],
    ['fit', 'off', true],
    ['mmap', 'no', false],
    ['mmap', 'False', false],
    ['mmap', 'yes', false],
    ['mmap', 'disabled', true],
    ['mmap', '0', true],
    ['cache-type-k', 'q8_0', true],
    ['cache-type-k', 'q8', false],
    ['reasoning-format', 'deepseek-legacy', true],
    ['reasoning-format', 'auto', true],
    ['reasoning-format', 'qwen', false],
    ['samplers', 'top_k', true],
    ['temp', '1e-3', true],
  ] as const)('%s = %s → accepted %s', (key, value, accepted) => {
    expect(argValueProblem(byKey(key), value) === null).toBe(accepted);
  });

  it('offers the real value sets', () => {
    expect(argValueRule(byKey('n-gpu-layers'))).toEqual({ kind: 'count', choices: ['auto', 'all'] });
    expect(argValueRule(byKey('flash-attn'))).toEqual({ kind: 'toggle', choices: ['on', 'off', 'auto'] });
    expect(argValueRule(byKey('reasoning-format'))).toEqual({ kind: 'enum', choices: ['none', 'deepseek', 'deepseek-legacy', 'auto'] });
    expect(argValueRule(byKey('samplers')).kind).toBe('list');
    expect(argValueRule(byKey('mmap'))).toEqual({ kind: 'bool', choices: ['true', 'false'] });
  });

  it('refuses "no-mmap = yes" (llama-server would turn mmap on) and "load-on-startup = yes" (it would load nothing)', () => {
    expect(presetProblems({ global: {}, sections: [{ name: 'm', values: { 'no-mmap': 'yes', 'load-on-startup': 'yes' } }] }, ARGS)).toEqual([
      '[m] no-mmap: expects on/enabled/true/1 or off/disabled/false/0 (llama-server reads nothing else as a boolean), got "yes"',
      '[m] load-on-startup: expects true or false (llama-server reads anything but on/enabled/true/1 as false), got "yes"',
    ]);
  });

  it('refuses two names of one argument in a section', () => {
    expect(presetProblems({ global: { c: '1', 'ctx-size': '2' }, sections: [] }, ARGS)).toEqual(['[*] ctx-size: sets the same argument as c; keep one']);
  });
});

describe(presetSourceProblems.name, () => {
  it('refuses a custom entry without a model source, and accepts overrides and entries with one', () => {
    const preset: PresetDocument = {
      global: {},
      sections: [
        { name: 'my-entry', values: { 'ctx-size': '4096' } },
        { name: 'known', values: { 'ctx-size': '4096' } },
        { name: 'linked', values: { m: '/models/x.gguf' } },
        { name: 'remote', values: { hfr: 'org/repo:Q4_K_M' } },
      ],
    };
    expect(presetSourceProblems(preset, new Set(['known']), ARGS)).toEqual([
      '[my-entry]: no model "my-entry" in the models directory, and no model source (model, hf-repo, model-url or docker-repo) for a custom entry',
    ]);
    expect(presetSourceProblems(preset, null, ARGS)).toEqual([]);
  });
});
