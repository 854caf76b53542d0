/**
 * What the StateManager needs from a connection: typed requests answered by an ack, broadcasts,
 * and connection status. socket-transport.ts implements it over Socket.IO; tests use a fake.
 */
import type {
  BroadcastData,
  BroadcastEnvelope,
  BroadcastEvent,
  ErrorCode,
  ErrorInfo,
  RequestEvent,
  RequestPayload,
  ResponseEnvelope,
} from '@llamaproxy/shared';
import { errorText } from '../lib/error-text.js';

export type TransportStatus = 'connected' | 'disconnected' | 'reconnecting';

export interface Transport {
  readonly connected: boolean;
  connect(): void;
  /** Sends one request; resolves with the server's envelope or rejects with a RequestError. */
  request<E extends RequestEvent>(event: E, payload: RequestPayload<E>, timeoutMs: number): Promise<ResponseEnvelope<E>>;
  onBroadcast(handler: (envelope: AnyBroadcast) => void): void;
  /** `attempt` counts reconnection attempts (0 when connected). */
  onStatus(handler: (status: TransportStatus, attempt: number) => void): void;
}

/** A broadcast envelope as a union discriminated by `event`. */
export type AnyBroadcast = { [B in BroadcastEvent]: BroadcastEnvelope<B> }[BroadcastEvent];
export type { BroadcastData };

/** A failed request: the server's `{ code, message }`, or TIMEOUT from the client. */
export class RequestError extends Error {
  readonly code: ErrorCode;
  /** With RATE_LIMITED: when a retry can succeed. */
  readonly retryAfterMs: number | undefined;
  /** With CONFLICT: the document as stored now (see core/conflict.ts). */
  readonly current: ErrorInfo['current'];

  constructor(info: ErrorInfo) {
    super(info.message);
    this.name = 'RequestError';
    this.code = info.code;
    this.retryAfterMs = info.retryAfterMs;
    this.current = info.current;
  }
}

export function isBroadcastEnvelope(value: unknown): value is AnyBroadcast {
  const v = value as Partial<BroadcastEnvelope> | null;
  return typeof v === 'object' && v !== null && v.type === 'broadcast' && typeof v.event === 'string' && typeof v.seq === 'number';
}

export function isResponseEnvelope(value: unknown): value is ResponseEnvelope {
  const v = value as Partial<ResponseEnvelope> | null;
  return typeof v === 'object' && v !== null && v.type === 'response' && typeof v.success === 'boolean';
}

/** A message for the user from anything a request can throw. */
export function errorMessage(error: unknown): string {
  if (error instanceof RequestError) {
    return errorText({ code: error.code, message: error.message, retryAfterMs: error.retryAfterMs });
  }
  if (error instanceof Error) {
    return error.message;
  }
  return 'Unexpected error';
}
