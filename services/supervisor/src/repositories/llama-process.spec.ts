import { describe, expect, it } from 'vitest';
import { llamaEnv } from './llama-process.js';

describe(llamaEnv.name, () => {
  const base = {
    PATH: '/usr/bin',
    LLAMA_ARG_THREADS: '4',
    LLAMA_API_KEY: '',
    LLAMA_API_KEY_FILE: '/run/secrets/llama',
    HF_TOKEN: 'hf_secret',
    HF_TOKEN_FILE: '/run/secrets/hf',
    REDIS_URL: 'redis://:pw@redis:6379',
    REDIS_PASSWORD: 'pw',
    REDIS_PASSWORD_FILE: '/data/.redis-password',
  };

  it('gives llama-server its key and none of the supervisor secrets', () => {
    const sut = llamaEnv('lk-1', base);
    expect(sut).toEqual({ PATH: '/usr/bin', LLAMA_ARG_THREADS: '4', LLAMA_API_KEY: 'lk-1' });
  });

  it('leaves out an empty inherited key when there is none', () => {
    expect(llamaEnv(null, base)).toEqual({ PATH: '/usr/bin', LLAMA_ARG_THREADS: '4' });
  });
});
