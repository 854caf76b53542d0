import { describe, expect, it } from 'vitest';
import { ConfigError } from '@llamaproxy/shared/node';
import { loadConfig } from './config.js';

const BASE = { REDIS_URL: 'redis://localhost:6379', MODELS_DIR: '/models' };

describe(loadConfig.name, () => {
  const sut = loadConfig;

  it('fails start-up on a flag the policy refuses in LLAMA_EXTRA_ARGS, naming the variable and the flag', () => {
    const load = (): unknown => sut({ ...BASE, LLAMA_EXTRA_ARGS: '--flash-attn on --log-file /models/x.gguf' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/LLAMA_EXTRA_ARGS: --log-file: not allowed: it writes files/);
  });

  it('refuses a path outside the models directory in LLAMA_EXTRA_ARGS', () => {
    expect(() => sut({ ...BASE, LLAMA_EXTRA_ARGS: '--mmproj /etc/passwd' })).toThrow(/--mmproj: "\/etc\/passwd" is outside/);
  });

  it('lets LLAMA_ALLOW_ARGS widen the policy', () => {
    const config = sut({ ...BASE, LLAMA_EXTRA_ARGS: '--log-file /var/log/llama.log', LLAMA_ALLOW_ARGS: 'log-file, metrics' });
    expect(config.allowArgs).toEqual(['log-file', 'metrics']);
    expect(config.server.extraArgs).toEqual(['--log-file', '/var/log/llama.log']);
  });

  it('leaves names only the catalogue resolves to the check at start', () => {
    expect(sut({ ...BASE, LLAMA_EXTRA_ARGS: '-fa on -c 4096' }).server.extraArgs).toEqual(['-fa', 'on', '-c', '4096']);
  });

  it('makes the directories absolute (llama-server runs in the models directory)', () => {
    const config = sut({ ...BASE, MODELS_DIR: 'models', SUPERVISOR_DATA_DIR: 'data' });
    expect(config.server.modelsDir).toBe(`${process.cwd()}/models`);
    expect(config.presetPath).toBe(`${process.cwd()}/data/models-preset.ini`);
  });
});
