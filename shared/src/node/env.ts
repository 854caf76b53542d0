import { z } from 'zod';

/** Thrown when the environment does not match a service's schema; names every bad key. */
export class ConfigError extends Error {
  readonly keys: string[];

  constructor(service: string, problems: { key: string; message: string }[]) {
    super(
      `Invalid configuration for ${service}: ` + problems.map((p) => `${p.key}: ${p.message}`).join('; '),
    );
    this.name = 'ConfigError';
    this.keys = problems.map((p) => p.key);
  }
}

/**
 * Parses environment variables once with a schema whose keys are the variable names.
 * Empty strings count as unset, so `KEY=` in a .env file falls back to the default.
 */
export function parseEnv<S extends z.ZodObject>(
  service: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.output<S> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') {
      input[key] = value;
    }
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((issue) => ({ key: issue.path.join('.') || '(root)', message: issue.message })),
    );
  }
  return result.data;
}

/** Helpers for env values, which are always strings. */
export const envBool = (defaultValue: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
    .default(defaultValue ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes' || v === 'on');

export const envInt = (defaultValue: number, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(defaultValue);

/** A comma- or whitespace-separated list. */
export const envList = (defaultValue: string[] = []) =>
  z
    .string()
    .default(defaultValue.join(' '))
    .transform((v) => v.split(/[\s,]+/).filter((s) => s.length > 0));

export const envLogLevel = z.enum(['error', 'warn', 'info', 'debug']).default('info');
