import { io, type Socket } from 'socket.io-client';
import {
  SOCKET_PATH,
  type BroadcastEnvelope,
  type BroadcastEvent,
  type ClientToServerEvents,
  type RequestEvent,
  type RequestPayload,
  type ResponseEnvelope,
  type ServerToClientEvents,
} from '@llamaproxy/shared';
import { waitFor, type WaitOptions } from './wait-for.js';

export type ApiSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface RecordedEvent {
  event: string;
  payload: unknown;
}

/** A real socket.io-client connection to a gateway that records every event it receives. */
export class TestClient {
  readonly socket: ApiSocket;
  readonly received: RecordedEvent[] = [];

  /** `headers`: extra handshake headers (a session `cookie`, an `origin`, a proxy's `remote-user`). */
  constructor(url: string, path = SOCKET_PATH, headers: Record<string, string> = {}) {
    this.socket = io(url, { path, transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: headers });
    this.socket.onAny((event: string, payload: unknown) => this.received.push({ event, payload }));
  }

  /** Connects, or rejects with the handshake's `connect_error` (its message is the error code). */
  static async connect(url: string, path = SOCKET_PATH, headers: Record<string, string> = {}): Promise<TestClient> {
    const client = new TestClient(url, path, headers);
    await new Promise<void>((resolve, reject) => {
      client.socket.once('connect', () => resolve());
      client.socket.once('connect_error', reject);
    });
    return client;
  }

  /** A request answered through the ack, typed by the shared event map. */
  async request<E extends RequestEvent>(event: E, payload: RequestPayload<E>, timeoutMs = 10_000): Promise<ResponseEnvelope<E>> {
    const socket = this.socket.timeout(timeoutMs);
    const emit = socket.emitWithAck.bind(socket) as unknown as (ev: E, p: RequestPayload<E>) => Promise<ResponseEnvelope<E>>;
    return emit(event, payload);
  }

  /** Broadcast envelopes of one event received so far. */
  broadcasts<B extends BroadcastEvent>(event: B): BroadcastEnvelope<B>[] {
    return this.received.filter((r) => r.event === event).map((r) => r.payload as BroadcastEnvelope<B>);
  }

  async waitForBroadcast<B extends BroadcastEvent>(
    event: B,
    predicate: (envelope: BroadcastEnvelope<B>) => boolean = () => true,
    options: WaitOptions = {},
  ): Promise<BroadcastEnvelope<B>> {
    return waitFor(() => this.broadcasts(event).find(predicate), { timeoutMs: 20_000, what: `broadcast ${event}`, ...options });
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * Signs in through the gateway's HTTP API and returns the session cookie (`name=value`) for
 * `TestClient.connect(url, undefined, { cookie })`; throws with the status and body otherwise.
 */
export async function signIn(baseUrl: string, username: string, password: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${baseUrl}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) {
    throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  }
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('llamaproxy_session='));
  if (cookie === undefined) {
    throw new Error('sign-in answered without a session cookie');
  }
  return cookie.split(';')[0]!;
}
