import type { Redis } from 'ioredis';
import { RedisKeys, STREAM_FIELD, STREAM_MAX_LEN, type LogRecord, type ModelState, type StatusEvent } from '@llamaproxy/shared';

/**
 * Reports to the gateway through Redis Streams (read by the gateways' consumer group) and keeps
 * the node's latest snapshot in a hash so a gateway that starts later knows the current truth.
 */
export class EventPublisher {
  private readonly redis: Redis;
  private readonly nodeId: string;
  private readonly models = new Map<string, ModelState>();

  constructor(redis: Redis, nodeId: string) {
    this.redis = redis;
    this.nodeId = nodeId;
  }

  async publishStatus(event: StatusEvent): Promise<void> {
    const payload = JSON.stringify(event);
    const snapshotKey = RedisKeys.nodeSnapshot(this.nodeId);
    const pipeline = this.redis.multi();
    pipeline.xadd(RedisKeys.statusStream, 'MAXLEN', '~', STREAM_MAX_LEN.status, '*', STREAM_FIELD, payload);
    pipeline.sadd(RedisKeys.nodes, this.nodeId);
    switch (event.kind) {
      case 'model':
        this.models.set(event.model.id, event.model);
        pipeline.hset(snapshotKey, 'models', JSON.stringify([...this.models.values()]));
        break;
      case 'models':
        this.models.clear();
        for (const model of event.models) {
          this.models.set(model.id, model);
        }
        pipeline.hset(snapshotKey, 'models', JSON.stringify(event.models));
        break;
      case 'llama':
      case 'catalogue':
      case 'args':
        pipeline.hset(snapshotKey, event.kind, payload);
        break;
    }
    await pipeline.exec();
  }

  async publishLogs(records: LogRecord[]): Promise<void> {
    if (records.length === 0) {
      return;
    }
    await this.redis.xadd(RedisKeys.logStream, 'MAXLEN', '~', STREAM_MAX_LEN.logs, '*', STREAM_FIELD, JSON.stringify({ records }));
  }
}
