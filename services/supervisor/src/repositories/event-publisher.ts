import type { Redis } from 'ioredis';
import {
  NODE_MODELS_DIGEST_FIELD,
  NodeRedisKeys,
  PRESENCE_TTL_MS,
  RedisKeys,
  STREAM_FIELD,
  STREAM_MAX_LEN,
  type LlamaStatus,
  type LogRecord,
  type ModelState,
  type StatusEvent,
} from '@llamaproxy/shared';
import { ModelDigest } from '../services/model-digest.js';

export interface EventPublisherOptions {
  /** Model changes are collected for this long (ms) and written together; default 100. */
  flushMs?: number;
}

/**
 * Reports to the gateway through Redis Streams (read by the gateways' consumer group) and keeps
 * the node's latest state in Redis so a gateway that starts later knows the current truth:
 * - the snapshot hash (RedisKeys.nodeSnapshot): llama-server status, catalogue, argument catalogue;
 * - the models hash (NodeRedisKeys.models): one field per model, plus the digest of them all.
 *
 * Model changes are deltas: collected for `flushMs` (a model that changes twice in that time is
 * written once) and written in one transaction, each as a `model` stream entry and one hash field,
 * so publishing costs what changed, never the whole list (issue 17: the list was re-serialised on
 * every change, which grew with the square of the model count).
 *
 * A write can be lost (Redis down: publishing is fire-and-forget for the caller). The heartbeat
 * (`republish`) carries the digest of every model state, so a gateway that missed a delta notices
 * and reads the models hash again; after a reconnect (`republish(…, true)`) the hashes are written
 * again in full, with the catalogue and argument catalogue (Redis may have lost them).
 */
export class EventPublisher {
  private readonly redis: Redis;
  private readonly nodeId: string;
  private readonly flushMs: number;
  /** The newest published state of each model. */
  private readonly models = new Map<string, ModelState>();
  private readonly digest = new ModelDigest();
  /** Changes not written yet: a state, or null for a model that is gone. */
  private pending = new Map<string, ModelState | null>();
  private flushTimer: NodeJS.Timeout | null = null;
  private flushSoon = false;
  private flushing: Promise<void> = Promise.resolve();
  /** A write of the models hash failed: the next heartbeat writes it in full. */
  private modelsHashLost = false;
  /** The newest catalogue and argument catalogue events, to publish again after an outage. */
  private readonly latest = new Map<'catalogue' | 'args', StatusEvent>();

  constructor(redis: Redis, nodeId: string, options: EventPublisherOptions = {}) {
    this.redis = redis;
    this.nodeId = nodeId;
    this.flushMs = options.flushMs ?? 100;
  }

  /** The digest of the published model states (what the heartbeat carries). */
  get modelsDigest(): string {
    return this.digest.value;
  }

  /**
   * A model's state changed. A new status is published at once (after the current synchronous
   * work, so a burst such as the first reconcile of thousands of models is one write, and before
   * any job that waited for it completes); progress within one status is collected for `flushMs`.
   */
  modelChanged(state: ModelState): void {
    const waiting = this.pending.get(state.id);
    const before = waiting ?? this.models.get(state.id);
    if (waiting !== undefined && waiting !== null && waiting.status !== state.status) {
      this.flush().catch(() => undefined); // marked lost; the next heartbeat rewrites the hash
    }
    this.pending.set(state.id, state);
    this.scheduleFlush(before === undefined || before === null || before.status !== state.status);
  }

  /** A model is gone from the node (its file was removed): its hash field goes with the next flush. */
  modelRemoved(modelId: string): void {
    this.pending.set(modelId, null);
    this.scheduleFlush(false);
  }

  /** Writes the collected model changes now; resolves when they are written (rejects when Redis cannot take them). */
  flush(): Promise<void> {
    if (this.flushTimer !== null) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) {
      return this.flushing;
    }
    const pipeline = this.redis.multi();
    const modelsKey = NodeRedisKeys.models(this.nodeId);
    const fields: string[] = [];
    const gone: string[] = [];
    for (const [id, state] of batch) {
      const prevDigest = this.digest.value;
      if (state === null) {
        this.digest.remove(id);
        this.models.delete(id);
        gone.push(id);
        continue;
      }
      this.digest.set(state);
      this.models.set(id, state);
      // Serialised once: the hash value and the stream entry share the text.
      const json = JSON.stringify(state);
      const head = JSON.stringify({ kind: 'model', nodeId: this.nodeId, prevDigest, digest: this.digest.value });
      pipeline.xadd(RedisKeys.statusStream, 'MAXLEN', '~', STREAM_MAX_LEN.status, '*', STREAM_FIELD, `${head.slice(0, -1)},"model":${json}}`);
      fields.push(id, json);
    }
    if (gone.length > 0) {
      pipeline.hdel(modelsKey, ...gone);
    }
    pipeline.hset(modelsKey, ...fields, NODE_MODELS_DIGEST_FIELD, this.digest.value);
    pipeline.sadd(RedisKeys.nodes, this.nodeId);
    const written = this.flushing.then(async () => {
      await pipeline.exec().catch((err: unknown) => {
        this.modelsHashLost = true;
        throw err;
      });
    });
    this.flushing = written.catch(() => undefined);
    return written;
  }

  /** Publishes one status event (a `model` event goes through `modelChanged`). */
  async publishStatus(event: StatusEvent): Promise<void> {
    if (event.kind === 'model') {
      this.modelChanged(event.model);
      return this.flush();
    }
    if (event.kind === 'models') {
      const ids = new Set(event.models.map((m) => m.id));
      for (const id of this.models.keys()) {
        if (!ids.has(id)) {
          this.modelRemoved(id);
        }
      }
      event.models.forEach((m) => this.modelChanged(m));
      return this.flush();
    }
    const payload = JSON.stringify(event);
    const snapshotKey = RedisKeys.nodeSnapshot(this.nodeId);
    const pipeline = this.redis.multi();
    pipeline.xadd(RedisKeys.statusStream, 'MAXLEN', '~', STREAM_MAX_LEN.status, '*', STREAM_FIELD, payload);
    pipeline.sadd(RedisKeys.nodes, this.nodeId);
    switch (event.kind) {
      case 'catalogue':
      case 'args':
        this.latest.set(event.kind, event);
        pipeline.hset(snapshotKey, event.kind, payload);
        break;
      case 'llama':
      case 'memory':
        pipeline.hset(snapshotKey, event.kind, payload);
        break;
      case 'state':
      case 'catalogue-entries':
        break;
    }
    await pipeline.exec();
  }

  /**
   * The heartbeat: llama-server's status and the digest of the model states, as one `state` event.
   * With `full` (after a reconnect) or after a failed write, first the models hash is written again
   * in full and the newest catalogue and argument catalogue are published again. Rejects when Redis
   * cannot take it; the next call repairs that.
   */
  async republish(status: LlamaStatus, full: boolean, now = Date.now()): Promise<void> {
    await this.flush();
    if (full || this.modelsHashLost) {
      this.modelsHashLost = false;
      try {
        await this.writeModelsHash();
        for (const event of this.latest.values()) {
          await this.publishStatus(event);
        }
      } catch (err) {
        this.modelsHashLost = true;
        throw err;
      }
    }
    const pipeline = this.redis.multi();
    pipeline.hset(RedisKeys.nodeSnapshot(this.nodeId), 'llama', JSON.stringify({ kind: 'llama', nodeId: this.nodeId, status } satisfies StatusEvent));
    const beat: StatusEvent = { kind: 'state', nodeId: this.nodeId, sentAt: now, status, digest: this.digest.value, modelCount: this.digest.size };
    pipeline.xadd(RedisKeys.statusStream, 'MAXLEN', '~', STREAM_MAX_LEN.status, '*', STREAM_FIELD, JSON.stringify(beat));
    pipeline.sadd(RedisKeys.nodes, this.nodeId);
    await pipeline.exec();
  }

  /** Says this supervisor (boot `bootId`) is alive, for PRESENCE_TTL_MS. */
  async refreshPresence(bootId: string): Promise<void> {
    await this.redis.set(NodeRedisKeys.presence(this.nodeId), bootId, 'PX', PRESENCE_TTL_MS);
  }

  /** Says this supervisor is gone (a clean shutdown), so the gateway need not wait for the expiry. */
  async clearPresence(): Promise<void> {
    await this.redis.del(NodeRedisKeys.presence(this.nodeId));
  }

  async publishLogs(records: LogRecord[]): Promise<void> {
    if (records.length === 0) {
      return;
    }
    await this.redis.xadd(RedisKeys.logStream, 'MAXLEN', '~', STREAM_MAX_LEN.logs, '*', STREAM_FIELD, JSON.stringify({ records }));
  }

  private scheduleFlush(soon: boolean): void {
    if (soon && !this.flushSoon) {
      this.flushSoon = true;
      queueMicrotask(() => {
        this.flushSoon = false;
        this.flush().catch(() => undefined); // marked lost; the next heartbeat rewrites the hash
      });
    }
    if (this.flushTimer !== null) {
      return;
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush().catch(() => undefined);
    }, this.flushMs);
    this.flushTimer.unref();
  }

  /** The models hash again, from scratch, in slices of 1,000 fields (one transaction). */
  private async writeModelsHash(): Promise<void> {
    const key = NodeRedisKeys.models(this.nodeId);
    const pipeline = this.redis.multi();
    pipeline.del(key);
    let fields: string[] = [];
    for (const [id, state] of this.models) {
      fields.push(id, JSON.stringify(state));
      if (fields.length >= 2000) {
        pipeline.hset(key, ...fields);
        fields = [];
      }
    }
    pipeline.hset(key, ...fields, NODE_MODELS_DIGEST_FIELD, this.digest.value);
    // The field older supervisors kept the whole list in.
    pipeline.hdel(RedisKeys.nodeSnapshot(this.nodeId), 'models');
    await pipeline.exec();
  }
}
