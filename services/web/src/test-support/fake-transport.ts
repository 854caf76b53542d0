/** A Transport driven by the test: connection changes, broadcasts and answers are explicit. */
import type {
  BroadcastData,
  BroadcastEvent,
  ErrorInfo,
  RequestEvent,
  RequestPayload,
  ResponseData,
  ResponseEnvelope,
} from '@llamaproxy/shared';
import type { AnyBroadcast, Transport, TransportStatus } from '../core/transport.js';

interface Pending {
  event: RequestEvent;
  payload: unknown;
  resolve: (reply: ResponseEnvelope) => void;
}

export class FakeTransport implements Transport {
  connected = false;
  /** Every request sent, in order. */
  readonly sent: { event: RequestEvent; payload: unknown }[] = [];
  private pending: Pending[] = [];
  private broadcastHandler: (envelope: AnyBroadcast) => void = () => {};
  private statusHandler: (status: TransportStatus, attempt: number) => void = () => {};

  connect(): void {}

  request<E extends RequestEvent>(event: E, payload: RequestPayload<E>): Promise<ResponseEnvelope<E>> {
    this.sent.push({ event, payload });
    return new Promise((resolve) => {
      this.pending.push({ event, payload, resolve: resolve as (reply: ResponseEnvelope) => void });
    });
  }

  onBroadcast(handler: (envelope: AnyBroadcast) => void): void {
    this.broadcastHandler = handler;
  }

  onStatus(handler: (status: TransportStatus, attempt: number) => void): void {
    this.statusHandler = handler;
  }

  goOnline(): void {
    this.connected = true;
    this.statusHandler('connected', 0);
  }

  goOffline(): void {
    this.connected = false;
    this.statusHandler('disconnected', 0);
  }

  push<B extends BroadcastEvent>(event: B, data: BroadcastData[B], seq: number): void {
    this.broadcastHandler({ type: 'broadcast', event, data, seq, timestamp: Date.now() } as AnyBroadcast);
  }

  /** Answers the oldest pending request for `event` with success. */
  answer<E extends RequestEvent>(event: E, data: ResponseData[E]): void {
    this.take(event).resolve({ type: 'response', event, success: true, data, requestId: null, timestamp: Date.now() });
  }

  fail(event: RequestEvent, error: ErrorInfo): void {
    this.take(event).resolve({ type: 'response', event, success: false, error, requestId: null, timestamp: Date.now() });
  }

  pendingEvents(): RequestEvent[] {
    return this.pending.map((p) => p.event);
  }

  private take(event: RequestEvent): Pending {
    const index = this.pending.findIndex((p) => p.event === event);
    const found = this.pending[index];
    if (found === undefined) {
      throw new Error(`no pending ${event} request`);
    }
    this.pending.splice(index, 1);
    return found;
  }
}
