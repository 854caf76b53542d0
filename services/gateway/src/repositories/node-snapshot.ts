import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ModelStateSchema, RedisKeys, StatusEventSchema, type StatusEvent } from '@llamaproxy/shared';

/**
 * What a supervisor node last reported, read back from its snapshot hash (RedisKeys.nodeSnapshot):
 * catalogue, model states, llama-server status, argument catalogue and memory report (placement), as status events in that
 * order. Fields that are missing or do not parse are left out. Throws when Redis cannot be reached.
 */
export async function readNodeSnapshot(redis: Redis, nodeId: string): Promise<StatusEvent[]> {
  const hash = await redis.hgetall(RedisKeys.nodeSnapshot(nodeId));
  const events: StatusEvent[] = [];
  const event = (field: string): void => {
    const parsed = StatusEventSchema.safeParse(parseJson(hash[field]));
    if (parsed.success && parsed.data.nodeId === nodeId) {
      events.push(parsed.data);
    }
  };
  event('catalogue');
  const models = z.array(ModelStateSchema).safeParse(parseJson(hash.models));
  if (models.success) {
    events.push({ kind: 'models', nodeId, models: models.data });
  }
  event('llama');
  event('args');
  event('memory');
  return events;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
