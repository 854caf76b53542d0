import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBool, envInt, envList, parseEnv } from './env.js';

const Schema = z.object({
  REDIS_URL: z.string().url(),
  PORT: envInt(3000, 1, 65_535),
  DEBUG: envBool(false),
  ARGS: envList(),
});

describe(parseEnv.name, () => {
  it('applies defaults and converts values', () => {
    expect(parseEnv('svc', Schema, { REDIS_URL: 'redis://r:6379', PORT: '8080', DEBUG: 'yes', ARGS: '--a 1, --b' })).toEqual({
      REDIS_URL: 'redis://r:6379',
      PORT: 8080,
      DEBUG: true,
      ARGS: ['--a', '1', '--b'],
    });
  });

  it('treats an empty value as unset, so `KEY=` in .env falls back to the default', () => {
    expect(parseEnv('svc', Schema, { REDIS_URL: 'redis://r', PORT: '', ARGS: '' })).toMatchObject({ PORT: 3000, ARGS: [] });
  });

  it('fails once, naming every bad key', () => {
    let error: unknown;
    try {
      parseEnv('gateway', Schema, { PORT: '99999', DEBUG: 'maybe' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).keys.sort()).toEqual(['DEBUG', 'PORT', 'REDIS_URL']);
    expect((error as ConfigError).message).toMatch(/^Invalid configuration for gateway: /);
  });
});
