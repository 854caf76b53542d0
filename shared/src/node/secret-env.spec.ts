import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, parseEnv } from './env.js';
import { envLlamaExtraArgs, LlamaApiKeySchema, readSecretEnv, redisUrlFromEnv } from './secret-env.js';

const KEY = 'k3y-0123456789abcdef';

/** The ConfigError `fn` throws (fails the test when it throws nothing or something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe(readSecretEnv.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'secret-env-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is null when neither NAME nor NAME_FILE is set, or both are empty', () => {
    expect(readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, {})).toBeNull();
    expect(readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, { LLAMA_API_KEY: '', LLAMA_API_KEY_FILE: '' })).toBeNull();
  });

  it('takes NAME as it is', () => {
    expect(readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, { LLAMA_API_KEY: KEY })).toBe(KEY);
  });

  it.each([
    ['no line break', KEY],
    ['a trailing newline', `${KEY}\n`],
    ['a trailing CRLF', `${KEY}\r\n`],
  ])('reads NAME_FILE once, with %s', (_, content) => {
    const path = join(dir, 'key');
    writeFileSync(path, content);
    let reads = 0;
    const read = (p: string): string => {
      reads += 1;
      return p === path ? content : '';
    };
    expect(readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, { LLAMA_API_KEY_FILE: path }, read)).toBe(KEY);
    expect(reads).toBe(1);
    // And through the real file system.
    expect(readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, { LLAMA_API_KEY_FILE: path })).toBe(KEY);
  });

  it('refuses both at once, a missing file and an empty file, naming the key', () => {
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    const cases: [NodeJS.ProcessEnv, string, RegExp][] = [
      [{ LLAMA_API_KEY: KEY, LLAMA_API_KEY_FILE: empty }, 'LLAMA_API_KEY', /not both/],
      [{ LLAMA_API_KEY_FILE: join(dir, 'missing') }, 'LLAMA_API_KEY_FILE', /cannot read .*missing \(ENOENT\)/],
      [{ LLAMA_API_KEY_FILE: empty }, 'LLAMA_API_KEY_FILE', /is empty/],
    ];
    for (const [env, key, message] of cases) {
      const sut = configError(() => readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, env));
      expect(sut.keys).toEqual([key]);
      expect(sut.message).toMatch(message);
    }
  });

  it('checks the value with the schema and never puts it in the message', () => {
    for (const bad of ['short', 'has a space 0123456789', 'comma,0123456789abcdef']) {
      const sut = configError(() => readSecretEnv('svc', 'LLAMA_API_KEY', LlamaApiKeySchema, { LLAMA_API_KEY: bad }));
      expect(sut.keys[0]).toBe('LLAMA_API_KEY');
      expect(sut.message).not.toContain(bad);
    }
  });
});

describe('envLlamaExtraArgs', () => {
  const Schema = z.object({ LLAMA_EXTRA_ARGS: envLlamaExtraArgs() });

  it('passes ordinary arguments', () => {
    expect(parseEnv('svc', Schema, { LLAMA_EXTRA_ARGS: '--flash-attn on, --jinja' }).LLAMA_EXTRA_ARGS).toEqual(['--flash-attn', 'on', '--jinja']);
  });

  it.each([
    ['--api-key s3cret-value', '--api-key', /LLAMA_API_KEY/],
    ['--api-key=s3cret-value', '--api-key', /LLAMA_API_KEY/],
    ['--api-key-file /run/keys', '--api-key-file', /LLAMA_API_KEY_FILE/],
    ['--hf-token s3cret-value', '--hf-token', /HF_TOKEN/],
    ['-hft s3cret-value', '-hft', /HF_TOKEN/],
  ])('refuses %s, saying what to use instead', (value, flag, instead) => {
    const sut = configError(() => parseEnv('supervisor', Schema, { LLAMA_EXTRA_ARGS: value }));
    expect(sut.keys).toEqual(['LLAMA_EXTRA_ARGS']);
    expect(sut.message).toContain(`${flag} does not belong`);
    expect(sut.message).toMatch(instead);
    expect(sut.message).not.toContain('s3cret-value');
  });
});

describe(redisUrlFromEnv.name, () => {
  const files: Record<string, string> = { '/run/redis/.redis-password': 'abc123def456\n' };
  const read = (path: string): string => {
    const text = files[path];
    if (text === undefined) {
      throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    }
    return text;
  };

  it.each([
    [{}, 'redis://redis:6379', 'redis://redis:6379'],
    [{ REDIS_PASSWORD: 'from-env-123' }, 'redis://redis:6379', 'redis://:from-env-123@redis:6379'],
    [{ REDIS_PASSWORD_FILE: '/run/redis/.redis-password' }, 'redis://redis:6379/2', 'redis://:abc123def456@redis:6379/2'],
    [{ REDIS_PASSWORD: 'ignored-123' }, 'redis://:given@redis:6379', 'redis://:given@redis:6379'],
  ])('with %j turns %s into %s', (env, url, expected) => {
    expect(redisUrlFromEnv('svc', url, env, read)).toBe(expected);
  });

  it('names the key, never the value, when the password is unusable', () => {
    expect(() => redisUrlFromEnv('svc', 'redis://r:6379', { REDIS_PASSWORD: 'has space in it' }, read)).toThrow(/REDIS_PASSWORD: letters/);
    expect(() => redisUrlFromEnv('svc', 'redis://r:6379', { REDIS_PASSWORD_FILE: '/nope' }, read)).toThrow(/REDIS_PASSWORD_FILE: cannot read \/nope/);
  });
});
