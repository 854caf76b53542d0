import type { Redis } from 'ioredis';
import { RedisKeys, STREAM_FIELD, STREAM_MAX_LEN, type LlamaStatus, type LogRecord, type ModelState, type StatusEvent } from '@llamaproxy/shared';

/** The node's live state, as the supervisor knows it now. */
export interface NodeState {
  status: LlamaStatus;
  models: ModelState[];
}

/**
 * Reports to the gateway through Redis Streams (read by the gateways' consumer group) and keeps
 * the node's latest snapshot in a hash so a gateway that starts later knows the current truth.
 * A report can be lost (Redis down: publishing is fire-and-forget for the caller), so the whole
 * state is published again by `republish`: periodically (the node's heartbeat) and after every
 * reconnect, with the catalogue and argument catalogue too (Redis may have lost the hash).
 */
export class EventPublisher {
  private readonly redis: Redis;
  private readonly nodeId: string;
  private readonly models = new Map<string, ModelState>();
  /** The newest catalogue and argument catalogue events, to publish again after an outage. */
  private readonly latest = new Map<'catalogue' | 'args', StatusEvent>();

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
      case 'state':
        this.models.clear();
        for (const model of event.models) {
          this.models.set(model.id, model);
        }
        pipeline.hset(snapshotKey, 'models', JSON.stringify(event.models));
        if (event.kind === 'state') {
          pipeline.hset(snapshotKey, 'llama', JSON.stringify({ kind: 'llama', nodeId: event.nodeId, status: event.status } satisfies StatusEvent));
        }
        break;
      case 'catalogue':
      case 'args':
        this.latest.set(event.kind, event);
        pipeline.hset(snapshotKey, event.kind, payload);
        break;
      case 'llama':
      case 'memory':
        pipeline.hset(snapshotKey, event.kind, payload);
        break;
    }
    await pipeline.exec();
  }

  /**
   * Publishes the node's whole state as one `state` event (and, with `full`, the newest catalogue
   * and argument catalogue first). Rejects when Redis cannot take it; the next call repairs that.
   */
  async republish(state: NodeState, full: boolean, now = Date.now()): Promise<void> {
    if (full) {
      for (const event of this.latest.values()) {
        await this.publishStatus(event);
      }
    }
    await this.publishStatus({ kind: 'state', nodeId: this.nodeId, sentAt: now, status: state.status, models: state.models });
  }

  async publishLogs(records: LogRecord[]): Promise<void> {
    if (records.length === 0) {
      return;
    }
    await this.redis.xadd(RedisKeys.logStream, 'MAXLEN', '~', STREAM_MAX_LEN.logs, '*', STREAM_FIELD, JSON.stringify({ records }));
  }
}
