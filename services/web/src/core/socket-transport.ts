import { io, type Socket } from 'socket.io-client';
import type { RequestEvent, RequestPayload, ResponseEnvelope } from '@llamaproxy/shared';
import type { AnyBroadcast, Transport, TransportStatus } from './transport.js';
import { RequestError, isBroadcastEnvelope, isResponseEnvelope } from './transport.js';

export interface SocketTransportHooks {
  /**
   * The server refused the handshake (`connect_error` from its middleware; `code` is the error
   * code: UNAUTHENTICATED, ORIGIN_NOT_ALLOWED, RATE_LIMITED). Socket.IO does not retry then:
   * the hook decides whether to `connect()` again.
   */
  onRefused?(code: string): void;
  /**
   * The server closed the socket on purpose ("io server disconnect": session ended, role
   * changed). Socket.IO does not retry then either. Without this hook the socket reconnects
   * after two seconds.
   */
  onServerDisconnect?(): void;
}

/** The Transport over Socket.IO (websocket only) at `<base>llamaproxws` on the page's origin. */
export class SocketTransport implements Transport {
  private readonly socket: Socket;
  private statusHandler: (status: TransportStatus, attempt: number) => void = () => {};

  constructor(path: string, hooks: SocketTransportHooks = {}) {
    this.socket = io({
      path,
      transports: ['websocket'],
      autoConnect: false,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 10_000,
      // The session cookie travels with the handshake (same origin).
      withCredentials: true,
    });
    this.socket.on('connect', () => this.statusHandler('connected', 0));
    this.socket.on('disconnect', (reason) => {
      this.statusHandler('disconnected', 0);
      if (reason === 'io server disconnect') {
        if (hooks.onServerDisconnect) {
          hooks.onServerDisconnect();
        } else {
          setTimeout(() => this.socket.connect(), 2000);
        }
      }
    });
    this.socket.on('connect_error', (error) => {
      // `active` stays true for network failures (Socket.IO retries them itself); false means
      // the server's middleware refused the connection.
      if (!this.socket.active) {
        this.statusHandler('disconnected', 0);
        hooks.onRefused?.(error.message);
      }
    });
    this.socket.io.on('reconnect_attempt', (attempt) => this.statusHandler('reconnecting', attempt));
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  connect(): void {
    this.socket.connect();
  }

  /** Closes the socket without retrying (signed out). */
  disconnect(): void {
    this.socket.disconnect();
  }

  async request<E extends RequestEvent>(event: E, payload: RequestPayload<E>, timeoutMs: number): Promise<ResponseEnvelope<E>> {
    let reply: unknown;
    try {
      reply = await this.socket.timeout(timeoutMs).emitWithAck(event, payload);
    } catch {
      throw new RequestError({ code: 'TIMEOUT', message: `No answer to ${event} within ${Math.round(timeoutMs / 1000)} s` });
    }
    if (!isResponseEnvelope(reply)) {
      throw new RequestError({ code: 'INTERNAL', message: `Malformed answer to ${event}` });
    }
    return reply as ResponseEnvelope<E>;
  }

  onBroadcast(handler: (envelope: AnyBroadcast) => void): void {
    this.socket.onAny((_event: string, envelope: unknown) => {
      if (isBroadcastEnvelope(envelope)) {
        handler(envelope);
      }
    });
  }

  onStatus(handler: (status: TransportStatus, attempt: number) => void): void {
    this.statusHandler = handler;
  }
}
