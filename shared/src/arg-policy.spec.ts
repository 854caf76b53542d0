import { describe, expect, it } from 'vitest';
import {
  ARG_POLICY,
  argPolicyContext,
  argPolicyError,
  argRule,
  checkArg,
  extraArgsPolicyProblems,
  modelsPathProblem,
  normalizePosixPath,
  parseAllowArgs,
  presetPolicyProblems,
  type ArgPolicyContext,
} from './arg-policy.js';
import { ErrorCode } from './errors.js';
import type { LlamaArg } from './llama.js';

const arg = (flags: string[], valueType: LlamaArg['valueType'], extra: Partial<LlamaArg> = {}): LlamaArg => ({
  flags,
  key: (flags.find((f) => f.startsWith('--') && !f.startsWith('--no-')) ?? flags[0] ?? '').replace(/^-+/, ''),
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

/** A few arguments as the supervisor parses them from `--help`. */
const ARGS = [
  arg(['-c', '--ctx-size'], 'int', { env: 'LLAMA_ARG_CTX_SIZE' }),
  arg(['-fa', '--flash-attn'], 'enum', { choices: ['on', 'off', 'auto'] }),
  arg(['--mmap', '--no-mmap'], 'flag', { negation: '--no-mmap' }),
  arg(['-m', '--model'], 'string'),
  arg(['--lora'], 'string'),
  arg(['--lora-scaled'], 'string'),
  arg(['-mm', '--mmproj'], 'string'),
  arg(['--log-file'], 'string', { env: 'LLAMA_ARG_LOG_FILE' }),
  arg(['--path'], 'string'),
  arg(['--tools'], 'string'),
  arg(['--mcp-servers-json'], 'string'),
  arg(['--slot-save-path'], 'string'),
  arg(['--media-path'], 'string'),
  arg(['-hf', '-hfr', '--hf-repo'], 'string'),
  arg(['-hft', '--hf-token'], 'string'),
  arg(['--port'], 'string'),
  arg(['--models-max'], 'int'),
  arg(['--reverse-prompt', '-r'], 'string'),
  arg(['--brand-new-flag'], 'flag'),
];
const ctx = (extra: Partial<ArgPolicyContext> = {}): ArgPolicyContext => ({ args: ARGS, modelsDir: '/models', ...extra });

describe(argRule.name, () => {
  it.each([
    ['ctx-size', { kind: 'allowed' }],
    ['lora', { kind: 'path', format: 'paths' }],
    ['lora-scaled', { kind: 'path', format: 'scaled-paths' }],
    ['model', { kind: 'path', format: 'path' }],
    ['log-file', { kind: 'denied', reason: 'writes' }],
    ['hf-repo', { kind: 'denied', reason: 'network' }],
    ['models-dir', { kind: 'denied', reason: 'stack' }],
    ['no-such-key', { kind: 'denied', reason: 'unknown' }],
  ])('%s → %o', (key, rule) => {
    expect(argRule(key)).toEqual(rule);
  });

  it('has only canonical keys (no dashes, no aliases)', () => {
    for (const key of Object.keys(ARG_POLICY)) {
      expect(key, key).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
    }
  });
});

describe(extraArgsPolicyProblems.name, () => {
  const sut = extraArgsPolicyProblems;

  it.each([
    [['--log-file', '/models/x.gguf'], '--log-file', 'writes files'],
    [['--path', '/'], '--path', 'serves local files'],
    [['--tools', 'all'], '--tools', 'run tools'],
    [['-hfr', 'ggml-org/x'], '-hfr', 'downloads'],
    [['--slot-save-path', '/models'], '--slot-save-path', 'writes files'],
    [['--mcp-servers-json', '{}'], '--mcp-servers-json', 'MCP'],
    [['--media-path', '/'], '--media-path', 'serves local files'],
    [['--port', '9'], '--port', 'supervisor sets it'],
    [['--models-max=9'], '--models-max', 'supervisor sets it'],
    [['--lora', '../../etc/x'], '--lora', 'outside the models directory'],
    [['--lora', 'a.gguf,/etc/x'], '--lora', '"/etc/x" is outside'],
    [['--lora-scaled', 'a.gguf:0.5,/tmp/b.gguf:1'], '--lora-scaled', '"/tmp/b.gguf" is outside'],
    [['-m', '/etc/passwd'], '-m', 'outside the models directory'],
    [['--brand-new-flag'], '--brand-new-flag', 'not in the flag policy'],
  ])('refuses %j, naming %s', (extra, flag, reason) => {
    const problems = sut(extra, ctx());
    expect(problems).toEqual([expect.objectContaining({ flag, reason: expect.stringContaining(reason) })]);
  });

  it('allows performance flags and paths inside the models directory', () => {
    expect(
      sut(['-c', '4096', '--flash-attn', 'on', '--no-mmap', '--lora', 'adapters/a.gguf,/models/b.gguf', '--lora-scaled', 'a.gguf:0.5', '-mm', '/models/./p.gguf', '-r', '-x'], ctx()),
    ).toEqual([]);
  });

  it('checks a flag that hides as the value of the flag before it', () => {
    expect(sut(['--reverse-prompt', '--log-file', '/models/x.gguf'], ctx())).toEqual([expect.objectContaining({ flag: '--log-file' })]);
  });

  it('leaves unknown flags to extraArgsProblems when the catalogue is known', () => {
    expect(sut(['--nope'], ctx())).toEqual([]);
  });

  it('without a catalogue, judges canonical names by the table and refuses the rest', () => {
    const noCatalogue = ctx({ args: null });
    expect(sut(['--ctx-size', '1', '--no-mmap', '--lora', 'a.gguf'], noCatalogue)).toEqual([]);
    expect(sut(['--log-file', 'x', '-hfr', 'y', '-c', '1'], noCatalogue).map((p) => p.flag)).toEqual(['--log-file', '-hfr', '-c']);
  });

  it('widens only what LLAMA_ALLOW_ARGS names, under any of its names', () => {
    const widened = ctx({ allow: parseAllowArgs('--log-file, hfr') });
    expect(sut(['--log-file', '/tmp/llama.log', '--hf-repo', 'a/b', '-hf', 'a/b'], widened)).toEqual([]);
    expect(sut(['--path', '/'], widened)).toHaveLength(1);
  });

  it('runs the extra path check after the lexical one', () => {
    const checkPath = (path: string): string | null => (path === 'link.gguf' ? 'leaves the models directory through a symlink' : null);
    expect(sut(['--mmproj', 'link.gguf', '--lora', 'ok.gguf'], ctx({ checkPath }))).toEqual([
      expect.objectContaining({ flag: '--mmproj', reason: 'leaves the models directory through a symlink' }),
    ]);
  });
});

describe(presetPolicyProblems.name, () => {
  const sut = presetPolicyProblems;

  it('refuses denied keys and paths outside the models directory, naming section and key', () => {
    const problems = sut(
      {
        global: { 'log-file': '/models/x.gguf', LLAMA_ARG_LOG_FILE: '/models/y.gguf', 'ctx-size': '4096', 'load-on-startup': 'true' },
        sections: [
          { name: 'custom', values: { model: '/etc/passwd', hfr: 'a/b' } },
          { name: 'tiny', values: { lora: '../../etc/x', mmproj: 'tiny-mmproj.gguf', 'stop-timeout': '5' } },
        ],
      },
      ctx(),
    );
    expect(problems.map((p) => [p.section, p.flag])).toEqual([
      ['*', 'log-file'],
      ['*', 'LLAMA_ARG_LOG_FILE'],
      ['custom', 'model'],
      ['custom', 'hfr'],
      ['tiny', 'lora'],
    ]);
    expect(problems[2]?.reason).toContain('"/etc/passwd" is outside the models directory /models');
  });

  it('refuses the custom model key without a catalogue too', () => {
    expect(sut({ global: {}, sections: [{ name: 'c', values: { model: '/etc/passwd' } }] }, ctx({ args: null }))).toHaveLength(1);
  });
});

describe(checkArg.name, () => {
  it('asks for a path when a path flag has none', () => {
    expect(checkArg('--lora', null, ctx())).toMatchObject({ reason: 'expects a path inside the models directory' });
  });
});

describe(modelsPathProblem.name, () => {
  it.each([
    ['x.gguf', null],
    ['sub/x.gguf', null],
    ['/models/sub/../x.gguf', null],
    ['/models', 'outside'],
    ['/models-other/x.gguf', 'outside'],
    ['../x.gguf', 'outside'],
    ['sub/../../x.gguf', 'outside'],
    ['/etc/passwd', 'outside'],
    ['', 'expects a path'],
  ])('%s → %s', (path, problem) => {
    const result = modelsPathProblem(path, '/models/');
    expect(problem === null ? result : result?.includes(problem)).toBe(problem === null ? null : true);
  });

  it('normalises paths lexically', () => {
    expect(normalizePosixPath('/a//b/./c/../d/')).toBe('/a/b/d');
    expect(normalizePosixPath('/../a')).toBe('/a');
    expect(normalizePosixPath('../a/../../b')).toBe('../../b');
  });
});

describe(argPolicyError.name, () => {
  it('is ARG_NOT_ALLOWED with every problem in the message, or null', () => {
    expect(argPolicyError([])).toBeNull();
    const err = argPolicyError([
      { flag: '--log-file', key: 'log-file', reason: 'not allowed: it writes files on the host' },
      { flag: 'model', key: 'model', reason: '"/etc/passwd" is outside the models directory /models', section: 'c' },
    ]);
    expect(err?.code).toBe(ErrorCode.ARG_NOT_ALLOWED);
    expect(err?.message).toBe('--log-file: not allowed: it writes files on the host; [c] model: "/etc/passwd" is outside the models directory /models');
  });
});

describe(argPolicyContext.name, () => {
  it('uses the policy the supervisor published, or the fallback', () => {
    expect(argPolicyContext({ nodeId: 'n', version: null, args: ARGS, policy: { modelsDir: '/m', allow: ['tools'] } }, '/x')).toEqual({
      args: ARGS,
      modelsDir: '/m',
      allow: ['tools'],
    });
    expect(argPolicyContext(null, '/x')).toEqual({ args: null, modelsDir: '/x', allow: [] });
  });
});
