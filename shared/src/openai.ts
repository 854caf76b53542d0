import { z } from 'zod';

/**
 * The OpenAI-compatible endpoint on the dashboard's origin (`<base>v1/...`): its routes, its
 * error shape, API keys and the activity records of its requests. The gateway serves it; the web
 * app's key, activity and playground pages read these types.
 */

/** Path prefix of the endpoint (after the dashboard's BASE_PATH). */
export const OPENAI_PREFIX = '/v1';

/** The POST routes forwarded to the router, by their path under `/v1`; `models` is answered by the gateway. */
export const OpenAiEndpoint = {
  chatCompletions: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  rerank: '/rerank',
  responses: '/responses',
  messages: '/messages',
} as const;
export type OpenAiEndpoint = (typeof OpenAiEndpoint)[keyof typeof OpenAiEndpoint];
export const OPENAI_ENDPOINTS: readonly OpenAiEndpoint[] = Object.values(OpenAiEndpoint);

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** The error types the endpoint answers with, by HTTP status (OpenAI's names). */
export const OpenAiErrorType = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
} as const;

/** Key material: `lap-` then 43 base64url characters (256 random bits). */
export const API_KEY_PATTERN = /^lap-[A-Za-z0-9_-]{43}$/;
/** The part of a key shown in lists to tell keys apart: its first 12 characters. */
export const API_KEY_PREFIX_LENGTH = 12;

export const ApiKeyLimitsSchema = z.object({
  /** Requests per minute; null: no limit. */
  requestsPerMinute: z.number().int().min(1).max(1_000_000).nullable().default(null),
  /** Prompt + generated tokens per minute; null: no limit. */
  tokensPerMinute: z.number().int().min(1).max(1_000_000_000).nullable().default(null),
});
export type ApiKeyLimits = z.output<typeof ApiKeyLimitsSchema>;

/** What `apikeys:create` takes: the key's name, whose it is, which models, until when, its limits. */
export const ApiKeyCreateSchema = z.object({
  name: z.string().trim().min(1).max(64),
  /** The owner (admins only; others always create their own). */
  userId: z.string().min(1).max(64).optional(),
  /** Model ids the key may use; null or absent: every model. */
  models: z.array(z.string().min(1).max(512)).max(256).nullable().default(null),
  /** Milliseconds since the epoch; null: never. */
  expiresAt: z.number().int().positive().nullable().default(null),
  limits: ApiKeyLimitsSchema.default({ requestsPerMinute: null, tokensPerMinute: null }),
});

/** A key as lists show it (never the key itself). */
export interface ApiKeyView {
  id: string;
  name: string;
  /** The first characters of the key, to recognise it. */
  prefix: string;
  userId: string | null;
  username: string | null;
  /** Model ids, or null for every model. */
  models: string[] | null;
  expiresAt: number | null;
  limits: ApiKeyLimits;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  /** `environment`: from API_KEYS / API_KEYS_FILE, cannot be edited or revoked here. */
  source: 'database' | 'environment';
}

/** One request to the endpoint, as recorded (never its prompt or output). */
export interface ActivityRecord {
  id: number;
  ts: number;
  keyId: string | null;
  keyName: string | null;
  userId: string | null;
  username: string | null;
  model: string | null;
  endpoint: string;
  status: number;
  stream: boolean;
  promptTokens: number | null;
  cachedTokens: number | null;
  completionTokens: number | null;
  /** Milliseconds from the request to the first byte of output (streams: the first token). */
  ttftMs: number | null;
  tokensPerSec: number | null;
  durationMs: number;
  address: string | null;
  /** The error code or message of a failed request. */
  error: string | null;
}

/** Filters of `activity:query`. */
export const ActivityQuerySchema = z.object({
  model: z.string().max(512).optional(),
  keyId: z.string().max(64).optional(),
  /** `ok` (2xx), `error` (any other), or one status. */
  status: z.union([z.enum(['ok', 'error']), z.number().int().min(100).max(599)]).optional(),
  /** Records with id > afterId, newest first (the live table's refresh). */
  afterId: z.number().int().nonnegative().optional(),
  /** Records with id < beforeId, newest first (scrolling back). */
  beforeId: z.number().int().positive().optional(),
  limit: z.number().int().min(1).max(5000).default(200),
});

/** The periods usage totals are summed over: UTC days, ISO weeks (from Monday), calendar months. */
export const UsagePeriod = { day: 'day', week: 'week', month: 'month' } as const;
export type UsagePeriod = (typeof UsagePeriod)[keyof typeof UsagePeriod];
export const UsagePeriodSchema = z.enum(UsagePeriod);

/** What `activity:usage` takes: the days [from, to) (epoch ms, whole UTC days) and the period to sum over. */
export const UsageQuerySchema = z.object({
  from: z.number().int().nonnegative(),
  to: z.number().int().positive().optional(),
  period: UsagePeriodSchema.default('day'),
});

/** Totals of one period and one key, user and model. */
export interface UsageRow {
  /** The period's first day, `YYYY-MM-DD` (UTC): the day itself, the week's Monday, the month's 1st. */
  day: string;
  keyId: string | null;
  keyName: string | null;
  userId: string | null;
  username: string | null;
  model: string | null;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
}

/**
 * The capture buffer (off by default): while an admin has it on, the prompts (request bodies) and
 * outputs (response bodies, streamed ones as their SSE text) of the most recent `/v1` requests are
 * kept in the database, at most `maxRequests` of them and `maxBytes` of each side, for admins to
 * read on request in the Activity details. Turning it off deletes what was kept. Never logged.
 */
export const CaptureSettingsSchema = z.object({
  enabled: z.boolean(),
  /** How many of the most recent requests are kept; older ones are dropped. */
  maxRequests: z.number().int().min(1).max(500),
  /** Bytes kept of each side (the request body, the output) of one request; beyond, it is cut. */
  maxBytes: z.number().int().min(1024).max(1_048_576),
});
export type CaptureSettings = z.output<typeof CaptureSettingsSchema>;

export const CAPTURE_DEFAULTS: CaptureSettings = { enabled: false, maxRequests: 20, maxBytes: 65_536 };

/** What `capture:update` takes: any of the settings (those left out keep their value). */
export const CaptureUpdateSchema = CaptureSettingsSchema.partial();

/** One captured request: its activity record's id, the body sent, the answer received. */
export interface CapturedExchange {
  activityId: number;
  ts: number;
  request: string;
  requestTruncated: boolean;
  response: string;
  responseTruncated: boolean;
}
