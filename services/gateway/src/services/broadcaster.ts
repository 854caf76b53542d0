import type { Redis } from 'ioredis';
import type { Server } from 'socket.io';
import { RedisKeys, type BroadcastData, type BroadcastEnvelope, type BroadcastEvent, type ClientToServerEvents, type InterServerEvents, type ServerToClientEvents, type SocketData } from '@llamaproxy/shared';

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * Sends a broadcast envelope to every client of every replica (through the Redis adapter), each
 * stamped with the next value of one cluster-wide sequence: the clients' `eventSeq` cursor.
 */
export class Broadcaster {
  private readonly io: IoServer;
  private readonly redis: Redis;
  /** The newest sequence number this replica has seen, for when Redis cannot be asked. */
  private lastSeq = 0;

  constructor(io: IoServer, redis: Redis) {
    this.io = io;
    this.redis = redis;
  }

  async broadcast<B extends BroadcastEvent>(event: B, data: BroadcastData[B]): Promise<void> {
    const seq = await this.redis.incr(RedisKeys.broadcastSeq);
    this.lastSeq = seq;
    const envelope: BroadcastEnvelope<B> = { type: 'broadcast', event, data, seq, timestamp: Date.now() };
    // The typed emit cannot follow a generic event name; the envelope type is checked above.
    (this.io.emit as (ev: string, payload: unknown) => boolean)(event, envelope);
  }

  /**
   * Sends to the sockets in `rooms` (every replica), leaving out those also in `except`. For
   * pushes that change no state the snapshot carries (the live activity feed): the envelope
   * carries the newest sequence number this replica saw, not a new one.
   */
  toRooms<B extends BroadcastEvent>(rooms: readonly string[], except: readonly string[], event: B, data: BroadcastData[B]): void {
    const envelope: BroadcastEnvelope<B> = { type: 'broadcast', event, data, seq: this.lastSeq, timestamp: Date.now() };
    const target = this.io.to([...rooms]).except([...except]);
    (target.emit as (ev: string, payload: unknown) => boolean)(event, envelope);
  }

  /**
   * The sequence number of the newest broadcast. While Redis is away this is the newest one this
   * replica saw, at once: a snapshot must not wait for Redis (nothing can be broadcast meanwhile,
   * and a cursor that is too low only makes a client accept a broadcast it could have skipped).
   */
  async currentSeq(): Promise<number> {
    if (this.redis.status !== 'ready') {
      return this.lastSeq;
    }
    try {
      this.lastSeq = Number((await this.redis.get(RedisKeys.broadcastSeq)) ?? 0);
    } catch {
      // Redis went away during the call: the newest value seen.
    }
    return this.lastSeq;
  }
}
