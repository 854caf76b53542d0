import type { Socket } from 'socket.io';
import {
  errorResponse,
  ErrorCode,
  isRequestEvent,
  okResponse,
  RequestEvents,
  ROLE_RANK,
  toErrorInfo,
  type ClientToServerEvents,
  type InterServerEvents,
  type RequestEvent,
  type ResponseEnvelope,
  type ServerToClientEvents,
  type SocketData,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { ApiService } from '../services/api.service.js';

type AppSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type Ack = (response: ResponseEnvelope) => void;

/**
 * The seed protocol as a thin adapter: parse the payload with its schema, check the role the
 * event needs, run the handler, answer with the envelope by ack, or as `<event>:result` to this
 * client when it passed no callback. Never throws, never leaves a request unanswered.
 */
export function attachRequestHandlers(socket: AppSocket, api: ApiService, log: Logger): void {

  const reply = (event: string, response: ResponseEnvelope, ack: Ack | undefined): void => {
    if (ack) {
      ack(response);
    } else {
      (socket.emit as (ev: string, payload: unknown) => boolean)(`${event}:result`, response);
    }
  };

  const handle = async (event: RequestEvent, rawPayload: unknown, ack: Ack | undefined): Promise<void> => {
    const requestId = readRequestId(rawPayload);
    const definition = RequestEvents[event];
    const identity = socket.data.identity;
    if (ROLE_RANK[identity.role] < ROLE_RANK[definition.role]) {
      reply(event, errorResponse(event, { code: ErrorCode.FORBIDDEN, message: `${event} needs the ${definition.role} role` }, requestId), ack);
      return;
    }
    const parsed = definition.payload.safeParse(rawPayload ?? {});
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ');
      reply(event, errorResponse(event, { code: ErrorCode.VALIDATION_FAILED, message }, requestId), ack);
      return;
    }
    try {
      const handler = api.handlers[event] as (req: unknown, ctx: { socketId: string; role: typeof identity.role }) => Promise<never>;
      const data = await handler(parsed.data, { socketId: socket.id, role: identity.role });
      reply(event, okResponse(event, data, requestId), ack);
    } catch (err) {
      const info = toErrorInfo(err);
      if (info.code === ErrorCode.INTERNAL) {
        log.error('request failed', { event, error: (err as Error).message, stack: (err as Error).stack });
      }
      reply(event, errorResponse(event, info, requestId), ack);
    }
  };

  socket.onAny((event: string, ...args: unknown[]) => {
    // `emit(event, ack)` passes the callback first; `emit(event, payload, ack)` second.
    let payload: unknown = args[0];
    const ack = args.find((a): a is Ack => typeof a === 'function');
    if (typeof payload === 'function') {
      payload = undefined;
    }
    if (!isRequestEvent(event)) {
      const response = { type: 'response', event, success: false, error: { code: ErrorCode.UNKNOWN_EVENT, message: `unknown event "${event}"` }, requestId: readRequestId(payload), timestamp: Date.now() } as unknown as ResponseEnvelope;
      reply(event, response, ack);
      return;
    }
    void handle(event, payload, ack);
  });
}

function readRequestId(payload: unknown): string | null {
  if (typeof payload === 'object' && payload !== null && 'requestId' in payload) {
    const id = (payload).requestId;
    return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null;
  }
  return null;
}
