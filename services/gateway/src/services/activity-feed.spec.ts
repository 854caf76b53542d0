import { describe, expect, it } from 'vitest';
import type { ActivityRecord } from '@llamaproxy/shared';
import { ActivityFeed, type RoomEmitter } from './activity-feed.js';

const record = (id: number, userId: string | null): ActivityRecord => ({
  id, ts: id, keyId: null, keyName: null, userId, username: userId, model: 'm', endpoint: '/chat/completions', status: 200, stream: true,
  promptTokens: 1, cachedTokens: 0, completionTokens: 1, ttftMs: 1, tokensPerSec: 1, durationMs: 1, address: null, error: null,
});

describe(ActivityFeed.name, () => {
  const setup = (): { sut: ActivityFeed; sent: { rooms: readonly string[]; except: readonly string[]; ids: number[] }[] } => {
    const sent: { rooms: readonly string[]; except: readonly string[]; ids: number[] }[] = [];
    const emitter: RoomEmitter = { toRooms: (rooms, except, _event, data) => sent.push({ rooms, except, ids: data.records.map((r) => r.id) }) };
    return { sut: new ActivityFeed(emitter, { admins: 'admins', user: (id) => `user:${id}` }), sent };
  };

  it('sends admins every record and each user only their own, newest first, nobody twice', () => {
    const { sut, sent } = setup();
    sut.publish([record(1, 'u1'), record(2, null), record(3, 'u2'), record(4, 'u1')]);
    expect(sent).toEqual([
      { rooms: ['admins'], except: [], ids: [4, 3, 2, 1] },
      { rooms: ['user:u1'], except: ['admins'], ids: [4, 1] },
      { rooms: ['user:u2'], except: ['admins'], ids: [3] },
    ]);
  });

  it('sends nothing for an empty write', () => {
    const { sut, sent } = setup();
    sut.publish([]);
    expect(sent).toEqual([]);
  });
});
