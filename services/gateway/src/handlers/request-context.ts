import type { ConnectionIdentity, ParsedRequest, RequestEvent, ResponseData } from '@llamaproxy/shared';

/** What a request handler knows about the caller (resolved in the Socket.IO handshake). */
export interface RequestContext {
  socketId: string;
  identity: ConnectionIdentity;
  /** SHA-256 hex of the caller's session id (local mode), else null. */
  sessionHash: string | null;
  address: string;
}

/** One request's handler: the payload already parsed with the event's schema and the role checked. */
export type Handler<E extends RequestEvent> = (req: ParsedRequest<E>, ctx: RequestContext) => Promise<ResponseData[E]>;

/** Handlers for a subset of the events; the domain modules each return one. */
export type DomainHandlers<E extends RequestEvent> = { [K in E]: Handler<K> };

/** Every request event's handler: a missing one is a compile error. */
export type Handlers = DomainHandlers<RequestEvent>;
