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

  constructor(io: IoServer, redis: Redis) {
    this.io = io;
    this.redis = redis;
  }

  async broadcast<B extends BroadcastEvent>(event: B, data: BroadcastData[B]): Promise<void> {
    const seq = await this.redis.incr(RedisKeys.broadcastSeq);
    const envelope: BroadcastEnvelope<B> = { type: 'broadcast', event, data, seq, timestamp: Date.now() };
    // The typed emit cannot follow a generic event name; the envelope type is checked above.
    (this.io.emit as (ev: string, payload: unknown) => boolean)(event, envelope);
  }

  async currentSeq(): Promise<number> {
    return Number((await this.redis.get(RedisKeys.broadcastSeq)) ?? 0);
  }
}
