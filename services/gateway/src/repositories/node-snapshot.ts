import type { Redis } from 'ioredis';
import { ModelStateSchema, NODE_MODELS_DIGEST_FIELD, NodeRedisKeys, RedisKeys, StatusEventSchema, type ModelState, type StatusEvent } from '@llamaproxy/shared';

/**
 * What a supervisor node last reported, read back from its snapshot hash (RedisKeys.nodeSnapshot)
 * and models hash (NodeRedisKeys.models): catalogue, model states, llama-server status, argument
 * catalogue and memory report (placement), as status events in that order. Fields that are missing
 * or do not parse are left out. Throws when Redis cannot be reached.
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
  const { models } = await readNodeModels(redis, nodeId);
  if (models.length > 0) {
    events.push({ kind: 'models', nodeId, models });
  }
  event('llama');
  event('args');
  event('memory');
  return events;
}

/**
 * Every model state in the node's models hash, and the digest the node wrote with them (null when
 * absent), read in one command. States that do not parse are left out. Throws when Redis cannot be reached.
 */
export async function readNodeModels(redis: Redis, nodeId: string): Promise<{ models: ModelState[]; digest: string | null }> {
  const hash = await redis.hgetall(NodeRedisKeys.models(nodeId));
  const models: ModelState[] = [];
  let digest: string | null = null;
  for (const [field, value] of Object.entries(hash)) {
    if (field === NODE_MODELS_DIGEST_FIELD) {
      digest = value;
      continue;
    }
    const parsed = ModelStateSchema.safeParse(parseJson(value));
    if (parsed.success && parsed.data.id === field) {
      models.push(parsed.data);
    }
  }
  return { models, digest };
}

/** Which of `nodeIds` have their supervisor's presence key (NodeRedisKeys.presence) now. Throws when Redis cannot be reached. */
export async function readPresence(redis: Redis, nodeIds: readonly string[]): Promise<Map<string, boolean>> {
  if (nodeIds.length === 0) {
    return new Map();
  }
  const values = await redis.mget(...nodeIds.map((id) => NodeRedisKeys.presence(id)));
  return new Map(nodeIds.map((id, i) => [id, values[i] !== null && values[i] !== undefined]));
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
