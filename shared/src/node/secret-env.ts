import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, envList } from './env.js';

/**
 * Secrets in the environment: `NAME` itself, or `NAME_FILE`, the path of a file that holds it (a
 * Docker secret under /run/secrets). Error messages name the key and the file, never the value.
 */

/** Reads a file's text; replaced in tests. */
export type SecretFileReader = (path: string) => string;

const readUtf8: SecretFileReader = (path) => readFileSync(path, 'utf8');

/**
 * The secret named `name` from `NAME` or from the file at `NAME_FILE`, checked with `schema`; null
 * when neither is set (empty counts as unset). The file is read once, here; one trailing line
 * break (what `echo` and editors add) is dropped. Setting both, a file that cannot be read, and an
 * empty file are configuration errors: a secret meant to be set must not silently become none.
 */
export function readSecretEnv(
  service: string,
  name: string,
  schema: z.ZodType<string> = z.string().min(1),
  env: NodeJS.ProcessEnv = process.env,
  readFile: SecretFileReader = readUtf8,
): string | null {
  const fileKey = `${name}_FILE`;
  const direct = env[name] ?? '';
  const path = env[fileKey] ?? '';
  if (direct !== '' && path !== '') {
    throw new ConfigError(service, [{ key: name, message: `set ${name} or ${fileKey}, not both` }]);
  }
  let value: string;
  let key: string;
  if (path !== '') {
    key = fileKey;
    try {
      value = readFile(path).replace(/\r?\n$/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(service, [{ key: fileKey, message: `cannot read ${path} (${code})` }]);
    }
    if (value === '') {
      throw new ConfigError(service, [{ key: fileKey, message: `${path} is empty` }]);
    }
  } else if (direct !== '') {
    key = name;
    value = direct;
  } else {
    return null;
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    // The issue messages describe the rule, never the value.
    throw new ConfigError(service, parsed.error.issues.map((issue) => ({ key, message: issue.message })));
  }
  return parsed.data;
}

/**
 * llama-server's API key (`LLAMA_API_KEY`): printable ASCII without spaces, since it travels in an
 * `Authorization: Bearer` header; no comma or quote, since llama-server splits its value as a
 * comma-separated list of keys.
 */
export const LlamaApiKeySchema = z
  .string()
  .min(16, 'at least 16 characters (e.g. `openssl rand -hex 32`)')
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
  .refine((v) => !/[,"']/.test(v), 'no comma or quote (llama-server reads a comma-separated list of keys)');

/** Flags whose value is a secret, with where that secret goes instead. */
const SECRET_FLAGS: readonly { pattern: RegExp; instead: string }[] = [
  { pattern: /^--api-key(-file)?(=|$)/, instead: 'set LLAMA_API_KEY or LLAMA_API_KEY_FILE instead' },
  { pattern: /^(--hf-token|-hft)(=|$)/, instead: 'set HF_TOKEN in the environment instead' },
];

/**
 * `LLAMA_EXTRA_ARGS`: a list of llama-server arguments that must not carry a secret. A secret on the
 * command line shows in the process list, in llama-server's log of its model instances' arguments,
 * and in the dashboard's status; `--api-key` there would also leave the supervisor and the collector
 * without the key they must send.
 */
export const envLlamaExtraArgs = () =>
  envList().superRefine((args, ctx) => {
    for (const arg of args) {
      const secret = SECRET_FLAGS.find((s) => s.pattern.test(arg));
      if (secret !== undefined) {
        ctx.addIssue({ code: 'custom', message: `${arg.split('=')[0] ?? arg} does not belong in the arguments: ${secret.instead}` });
      }
    }
  });

/** Redis passwords go into a URL's user-info: letters, digits and `-._~` need no escaping. */
const RedisPasswordSchema = z.string().min(8, 'at least 8 characters').max(512).regex(/^[A-Za-z0-9._~-]+$/, 'letters, digits and - . _ ~ only');

/**
 * `REDIS_URL` with the password from `REDIS_PASSWORD` or `REDIS_PASSWORD_FILE` (compose: the file
 * the Redis container writes on its first start) put into it; the URL as given when neither is
 * set or it already carries a password.
 */
export function redisUrlFromEnv(service: string, url: string, env: NodeJS.ProcessEnv = process.env, readFile: SecretFileReader = readUtf8): string {
  const password = readSecretEnv(service, 'REDIS_PASSWORD', RedisPasswordSchema, env, readFile);
  const parsed = new URL(url);
  if (password === null || parsed.password !== '') {
    return url;
  }
  parsed.password = password;
  return parsed.toString();
}
