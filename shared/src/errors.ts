/**
 * The one table of error codes. Every failure that crosses a process boundary (Socket.IO
 * response, job failure, Redis message) carries `{ code, message }` with a code from here.
 * Codes are stable: clients branch on them, so never rename one.
 */
export const ErrorCode = {
  /** Payload failed its schema. Nothing was changed. */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  /** The event name is not part of the API. */
  UNKNOWN_EVENT: 'UNKNOWN_EVENT',
  /** The caller's role does not allow this request. */
  FORBIDDEN: 'FORBIDDEN',
  /** Allowed for the caller's own things only (an admin may act for anyone): e.g. another user's API key. */
  OWNER_ONLY: 'OWNER_ONLY',
  /** An own-records request (`apikeys:own:*`) while the admin setting that allows it (API_KEYS_SELF_SERVICE) is off. */
  SELF_SERVICE_OFF: 'SELF_SERVICE_OFF',
  /** The caller is not signed in, or their session ended. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** Wrong user name or password (the same answer for both). */
  INVALID_CREDENTIALS: 'INVALID_CREDENTIALS',
  /** The request came from a page whose Origin is neither the dashboard's nor in ALLOWED_ORIGINS. */
  ORIGIN_NOT_ALLOWED: 'ORIGIN_NOT_ALLOWED',
  /** Too many requests; `retryAfterMs` says when to try again. */
  RATE_LIMITED: 'RATE_LIMITED',
  USER_NOT_FOUND: 'USER_NOT_FOUND',
  USER_EXISTS: 'USER_EXISTS',
  /** The change would leave no enabled admin. */
  LAST_ADMIN: 'LAST_ADMIN',
  /** First-admin setup is over (a user exists) or the token is wrong. */
  SETUP_UNAVAILABLE: 'SETUP_UNAVAILABLE',
  SESSION_NOT_FOUND: 'SESSION_NOT_FOUND',
  API_KEY_NOT_FOUND: 'API_KEY_NOT_FOUND',
  ALERT_CHANNEL_NOT_FOUND: 'ALERT_CHANNEL_NOT_FOUND',
  /** The rule does not exist, or a built-in rule cannot be deleted. */
  ALERT_RULE_NOT_FOUND: 'ALERT_RULE_NOT_FOUND',
  /** A channel's test message could not be delivered (the message says why, never a secret). */
  ALERT_DELIVERY_FAILED: 'ALERT_DELIVERY_FAILED',
  /** A llama-server flag or preset key that the flag policy refuses (the message names it and why). */
  ARG_NOT_ALLOWED: 'ARG_NOT_ALLOWED',
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** The model file exists but is not a usable GGUF (reason in the message). */
  MODEL_INVALID: 'MODEL_INVALID',
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  MODEL_UNLOAD_FAILED: 'MODEL_UNLOAD_FAILED',
  /** llama-server is not running (stopped, crashed or restarting). */
  LLAMA_NOT_RUNNING: 'LLAMA_NOT_RUNNING',
  LLAMA_START_FAILED: 'LLAMA_START_FAILED',
  /** llama-server exited while the request was in flight. */
  LLAMA_CRASHED: 'LLAMA_CRASHED',
  /** A flag or preset key that this llama-server does not accept. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  PRESET_INVALID: 'PRESET_INVALID',
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** Redis cannot be reached, so no job can be queued. */
  QUEUE_UNAVAILABLE: 'QUEUE_UNAVAILABLE',
  /** No supervisor is consuming the control queue. */
  SUPERVISOR_UNAVAILABLE: 'SUPERVISOR_UNAVAILABLE',
  JOB_FAILED: 'JOB_FAILED',
  JOB_CANCELLED: 'JOB_CANCELLED',
  TIMEOUT: 'TIMEOUT',
  DATABASE_ERROR: 'DATABASE_ERROR',
  /**
   * The update named a revision that is no longer the current one (someone else changed the
   * document first). `current` carries the document as it is now; nothing was changed.
   */
  CONFLICT: 'CONFLICT',
  /** Model downloads (Hugging Face Hub): the repository, revision or file does not exist (or is private and no token can see it). */
  HF_NOT_FOUND: 'HF_NOT_FOUND',
  /** The Hub refused: a gated or private repository without an accepted HF_TOKEN. */
  HF_UNAUTHORIZED: 'HF_UNAUTHORIZED',
  /** The Hub (or mirror at HF_ENDPOINT) cannot be reached or answered something unexpected. */
  HF_UNAVAILABLE: 'HF_UNAVAILABLE',
  /** The repository has no GGUF file (or not the files asked for). */
  HF_NO_GGUF: 'HF_NO_GGUF',
  /** A downloaded file's SHA-256 differs from the Hub's LFS object id (or its size differs); the file was discarded. */
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  /** Not enough free space in the models directory; any partial file was removed. */
  DISK_FULL: 'DISK_FULL',
  /** A name or path that would leave the models directory. Nothing was written. */
  PATH_OUTSIDE_MODELS_DIR: 'PATH_OUTSIDE_MODELS_DIR',
  /** The model is loaded (or loading): unload it first. */
  MODEL_LOADED: 'MODEL_LOADED',
  /** A model (or folder) of that name is already in the models directory. */
  MODEL_EXISTS: 'MODEL_EXISTS',
  /** Downloads are switched off on this node (MODEL_DOWNLOADS=off, or the models directory is read-only). */
  DOWNLOADS_DISABLED: 'DOWNLOADS_DISABLED',
  DOWNLOAD_NOT_FOUND: 'DOWNLOAD_NOT_FOUND',
  /** Anything unexpected. The message is generic; the detail goes to the log. */
  INTERNAL: 'INTERNAL',
  /**
   * The model cannot fit in the node's memory budget, even after evicting every model that may go
   * (pinned and loading ones stay). The message says how much it needs, how much is free and what holds the rest.
   */
  INSUFFICIENT_MEMORY: 'INSUFFICIENT_MEMORY',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  /** With RATE_LIMITED: milliseconds until a retry can succeed. */
  retryAfterMs?: number;
  /** With CONFLICT: the document as stored now and its revision, to reload or overwrite. */
  current?: ConflictCurrent;
}

/** What a CONFLICT answer carries: which document, its current revision and value. */
export interface ConflictCurrent {
  /** `config`, `preset`, `settings`, or `model-settings:<modelId>`. */
  document: string;
  revision: number;
  value: unknown;
}

/** An error meant for the caller: its code and message are safe to show. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly current: ConflictCurrent | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number; current?: ConflictCurrent }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
    this.current = options?.current;
  }

  toInfo(): ErrorInfo {
    const info: ErrorInfo = { code: this.code, message: this.message };
    if (this.retryAfterMs !== undefined) {
      info.retryAfterMs = this.retryAfterMs;
    }
    if (this.current !== undefined) {
      info.current = this.current;
    }
    return info;
  }
}

const codes = new Set<string>(Object.values(ErrorCode));

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codes.has(value);
}

/**
 * Turns anything thrown into the public error shape. Only AppError keeps its message;
 * everything else becomes INTERNAL so that internals never leak to clients.
 */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof AppError) {
    return err.toInfo();
  }
  return { code: ErrorCode.INTERNAL, message: 'Internal error' };
}
