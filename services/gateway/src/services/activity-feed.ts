import type { ActivityRecord, BroadcastData } from '@llamaproxy/shared';

/** Where the feed sends: one event to the sockets in `rooms`, leaving out those also in `except`. */
export interface RoomEmitter {
  toRooms(rooms: readonly string[], except: readonly string[], event: 'activity:new', data: BroadcastData['activity:new']): void;
}

/** The rooms the feed addresses (joined in the socket handshake, see SocketRooms). */
export interface FeedRooms {
  admins: string;
  user: (userId: string) => string;
}

/**
 * Pushes stored `/v1` activity records live to those who may see them: every record to the
 * admins' room, and each user's own records to that user's room (admins excluded there, so
 * nobody receives one twice). Records without a user (environment keys) reach admins only.
 * Through the Redis adapter every replica's sockets are reached, whichever replica stored them.
 */
export class ActivityFeed {
  private readonly emitter: RoomEmitter;
  private readonly rooms: FeedRooms;

  constructor(emitter: RoomEmitter, rooms: FeedRooms) {
    this.emitter = emitter;
    this.rooms = rooms;
  }

  /** `stored` as the writer stored it (oldest first); each push lists the newest first. */
  publish(stored: readonly ActivityRecord[]): void {
    if (stored.length === 0) {
      return;
    }
    const newestFirst = [...stored].reverse();
    this.emitter.toRooms([this.rooms.admins], [], 'activity:new', { records: newestFirst });
    const byUser = new Map<string, ActivityRecord[]>();
    for (const record of newestFirst) {
      if (record.userId !== null) {
        byUser.set(record.userId, [...(byUser.get(record.userId) ?? []), record]);
      }
    }
    for (const [userId, records] of byUser) {
      this.emitter.toRooms([this.rooms.user(userId)], [this.rooms.admins], 'activity:new', { records });
    }
  }
}
