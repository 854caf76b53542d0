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

  constructor(url: string, path = SOCKET_PATH) {
    this.socket = io(url, { path, transports: ['websocket'], reconnection: false, forceNew: true });
    this.socket.onAny((event: string, payload: unknown) => this.received.push({ event, payload }));
  }

  static async connect(url: string, path = SOCKET_PATH): Promise<TestClient> {
    const client = new TestClient(url, path);
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
