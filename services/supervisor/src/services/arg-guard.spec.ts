import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARG_POLICY, argRule, ErrorCode, extraArgsPolicyProblems, presetPolicyProblems, type PresetDocument } from '@llamaproxy/shared';
import { ArgGuard, realPathCheck, resolveRealPath } from './arg-guard.js';
import { parseLlamaHelp } from './llama-help.js';

// The real `--help` of the llama-server the tests build (see llama-help.spec.ts).
const ARGS = parseLlamaHelp(readFileSync(new URL('./__fixtures__/llama-server-help.txt', import.meta.url), 'utf8'));

describe('ARG_POLICY against the real llama-server --help', () => {
  it('classifies every argument of the binary explicitly (a new flag fails here until it is classified)', () => {
    const unclassified = ARGS.map((a) => a.key).filter((key) => !Object.hasOwn(ARG_POLICY, key));
    expect(unclassified).toEqual([]);
    expect(ARGS.length).toBeGreaterThan(250);
  });

  it.each([
    ['log-file', 'denied'],
    ['slot-save-path', 'denied'],
    ['path', 'denied'],
    ['media-path', 'denied'],
    ['tools', 'denied'],
    ['mcp-servers-json', 'denied'],
    ['mcp-servers-config', 'denied'],
    ['hf-repo', 'denied'],
    ['hf-file', 'denied'],
    ['hf-token', 'denied'],
    ['api-key', 'denied'],
    ['api-key-file', 'denied'],
    ['ssl-key-file', 'denied'],
    ['host', 'denied'],
    ['port', 'denied'],
    ['models-dir', 'denied'],
    ['models-preset', 'denied'],
    ['models-max', 'denied'],
    ['models-autoload', 'denied'],
    ['model-url', 'denied'],
    ['docker-repo', 'denied'],
    ['lora', 'path'],
    ['lora-scaled', 'path'],
    ['control-vector', 'path'],
    ['control-vector-scaled', 'path'],
    ['mmproj', 'path'],
    ['spec-draft-model', 'path'],
    ['chat-template-file', 'path'],
    ['grammar-file', 'path'],
    ['json-schema-file', 'path'],
    ['model', 'path'],
    ['ctx-size', 'allowed'],
    ['flash-attn', 'allowed'],
    ['cache-type-k', 'allowed'],
    ['gpu-layers', 'allowed'],
    ['chat-template', 'allowed'],
  ])('%s is %s', (key, kind) => {
    expect(ARGS.some((a) => a.key === key), `${key} in the fixture`).toBe(true);
    expect(argRule(key).kind).toBe(kind);
  });

  it('treats every argument whose value names a file as a path, or denies it', () => {
    const fileHints = /^(FNAME|FILE|PATH|DIR|JINJA_TEMPLATE_FILE)\b|FNAME/;
    for (const arg of ARGS.filter((a) => a.valueHint !== null && fileHints.test(a.valueHint))) {
      expect(argRule(arg.key).kind, arg.key).not.toBe('allowed');
    }
  });

  it.each([
    [['--log-file', '/models/x.gguf'], '--log-file'],
    [['--path', '/'], '--path'],
    [['--tools', 'all'], '--tools'],
    [['-hfr', 'ggml-org/x'], '-hfr'],
    [['-hff', 'x.gguf'], '-hff'],
    [['-hft', 'secret'], '-hft'],
    [['--slot-save-path', '/models'], '--slot-save-path'],
    [['--mcp-servers-json', '{}'], '--mcp-servers-json'],
    [['--media-path', '/'], '--media-path'],
    [['--lora', '../../etc/x'], '--lora'],
    [['-md', '/etc/passwd'], '-md'],
    [['--webui-config-file', '/etc/passwd'], '--webui-config-file'],
    [['--no-models-autoload'], '--no-models-autoload'],
  ])('refuses %j naming %s', (extra, flag) => {
    expect(extraArgsPolicyProblems(extra, { args: ARGS, modelsDir: '/models' })).toEqual([expect.objectContaining({ flag })]);
  });

  it('allows the everyday flags', () => {
    expect(
      extraArgsPolicyProblems(['-fa', 'on', '-ctk', 'q8_0', '--n-gpu-layers', '99', '--jinja', '--no-mmap', '-np', '2', '--chat-template', 'chatml', '--mmproj', 'vision/mmproj.gguf'], {
        args: ARGS,
        modelsDir: '/models',
      }),
    ).toEqual([]);
  });

  it('resolves preset keys by any name, and checks a custom entry model path', () => {
    const preset: PresetDocument = {
      global: { 'log-file': '/models/x.gguf', 'ctx-size': '4096' },
      sections: [{ name: 'custom', values: { model: '/etc/passwd', LLAMA_ARG_HF_REPO: 'a/b', 'load-on-startup': 'true' } }],
    };
    expect(presetPolicyProblems(preset, { args: ARGS, modelsDir: '/models' }).map((p) => `[${p.section}] ${p.flag}`)).toEqual([
      '[*] log-file',
      '[custom] model',
      '[custom] LLAMA_ARG_HF_REPO',
    ]);
  });
});

describe(ArgGuard.name, () => {
  let dir: string;
  let modelsDir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'arg-guard-'));
    modelsDir = join(dir, 'models');
    mkdirSync(join(modelsDir, 'sub'), { recursive: true });
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(modelsDir, 'a.gguf'), 'a');
    writeFileSync(join(dir, 'outside', 'secret.txt'), 'secret');
    symlinkSync(join(dir, 'outside', 'secret.txt'), join(modelsDir, 'escape.gguf'));
    symlinkSync(join(dir, 'outside'), join(modelsDir, 'linkdir'));
    symlinkSync(join(modelsDir, 'a.gguf'), join(modelsDir, 'sub', 'inner.gguf'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const guard = (allow: string[] = []): ArgGuard => new ArgGuard({ modelsDir, allow, args: ARGS });

  it('refuses a symlink that leaves the models directory, after the lexical check passed', () => {
    const sut = guard();
    for (const extra of [['--lora', 'escape.gguf'], ['--lora', join(modelsDir, 'linkdir', 'secret.txt')], ['--mmproj', 'linkdir/../a.gguf']]) {
      expect(() => sut.checkExtraArgs(extra), extra.join(' ')).toThrow(expect.objectContaining({ code: ErrorCode.ARG_NOT_ALLOWED, message: expect.stringContaining(extra[0] ?? '') }));
    }
  });

  it('accepts files inside, symlinks that stay inside, and files that do not exist yet', () => {
    const sut = guard();
    expect(() => sut.checkExtraArgs(['--lora', 'a.gguf', '--mmproj', 'sub/inner.gguf', '--control-vector', `${modelsDir}/new/cv.gguf`])).not.toThrow();
  });

  it('checks preset values the same way, before anything is written', () => {
    const sut = guard();
    expect(() => sut.checkPreset({ global: {}, sections: [{ name: 'c', values: { model: 'escape.gguf' } }] })).toThrow(
      expect.objectContaining({ code: ErrorCode.ARG_NOT_ALLOWED, message: expect.stringContaining('[c] model') }),
    );
    expect(() => sut.checkPreset({ global: { 'ctx-size': 'big' }, sections: [] })).toThrow(expect.objectContaining({ code: ErrorCode.PRESET_INVALID }));
    expect(() => sut.checkPreset({ global: { 'ctx-size': '4096' }, sections: [{ name: 'c', values: { model: 'a.gguf' } }] })).not.toThrow();
  });

  it('tells unknown flags (INVALID_ARGUMENT) from refused ones (ARG_NOT_ALLOWED)', () => {
    const sut = guard();
    expect(() => sut.checkExtraArgs(['--no-such-flag'])).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => sut.checkExtraArgs(['--log-file', 'x'])).toThrow(expect.objectContaining({ code: ErrorCode.ARG_NOT_ALLOWED }));
  });

  it('widens what LLAMA_ALLOW_ARGS names, and publishes it', () => {
    const sut = guard(['log-file', 'lora']);
    expect(() => sut.checkExtraArgs(['--log-file', '/tmp/llama.log', '--lora', 'escape.gguf'])).not.toThrow();
    expect(() => sut.checkExtraArgs(['--path', '/'])).toThrow(expect.objectContaining({ code: ErrorCode.ARG_NOT_ALLOWED }));
    expect(sut.info).toEqual({ modelsDir, allow: ['log-file', 'lora'] });
  });
});

describe(resolveRealPath.name, () => {
  it('resolves the existing prefix and keeps the rest; refuses ".." in the part that does not exist', () => {
    const realpath = (p: string): string => {
      if (p === '/m' || p === '/m/') {
        return '/real/m';
      }
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    };
    expect(resolveRealPath('/m/a/b.gguf', realpath)).toBe('/real/m/a/b.gguf');
    expect(resolveRealPath('/m/a/../../b', realpath)).toBeNull();
    expect(realPathCheck(realpath)('a/b.gguf', '/m')).toBeNull();
  });
});
