import type { Redis } from 'ioredis';
import { RedisKeys, STREAM_FIELD } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

export interface StreamEntry {
  stream: string;
  id: string;
  payload: unknown;
}

/**
 * Reads the services' streams as one member of the gateways' consumer group: each entry goes to
 * exactly one replica, which stores it and acknowledges it. Entries a dead replica left pending
 * are claimed after `claimIdleMs`. Processing must be idempotent per entry id (see claimStreamEntry).
 */
export class StreamConsumer {
  private readonly redis: Redis;
  private readonly streams: readonly string[];
  private readonly consumer: string;
  private readonly log: Logger;
  private readonly claimIdleMs: number;
  private running = false;
  private loop: Promise<void> | null = null;

  constructor(redis: Redis, streams: readonly string[], consumer: string, logger: Logger, claimIdleMs = 30_000) {
    this.redis = redis;
    this.streams = streams;
    this.consumer = consumer;
    this.log = logger.child({ module: 'stream-consumer' });
    this.claimIdleMs = claimIdleMs;
  }

  async init(): Promise<void> {
    for (const stream of this.streams) {
      try {
        // '0': a new group starts with what is already in the stream (nothing reported is lost).
        await this.redis.xgroup('CREATE', stream, RedisKeys.gatewayGroup, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) {
          throw err;
        }
      }
    }
  }

  start(handle: (entries: StreamEntry[]) => Promise<void> | void): void {
    this.running = true;
    this.loop = (async () => {
      let lastClaim = 0;
      while (this.running) {
        try {
          if (Date.now() - lastClaim > this.claimIdleMs / 2) {
            lastClaim = Date.now();
            await this.claimAbandoned(handle);
          }
          const result = (await this.redis.xreadgroup(
            'GROUP', RedisKeys.gatewayGroup, this.consumer,
            'COUNT', 500, 'BLOCK', 500,
            'STREAMS', ...this.streams, ...this.streams.map(() => '>'),
          )) as [string, [string, string[]][]][] | null;
          for (const [stream, raw] of result ?? []) {
            await this.process(stream, raw, handle);
          }
        } catch (err) {
          if (this.running) {
            this.log.warn('stream read failed', { error: (err as Error).message });
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      }
    })();
  }

  private async process(stream: string, raw: [string, string[]][], handle: (entries: StreamEntry[]) => Promise<void> | void): Promise<void> {
    if (raw.length === 0) {
      return;
    }
    const entries = raw.map(([id, fields]) => {
      const index = fields.indexOf(STREAM_FIELD);
      const text = index >= 0 ? fields[index + 1] : undefined;
      let payload: unknown = undefined;
      try {
        payload = text === undefined ? undefined : (JSON.parse(text) as unknown);
      } catch {
        payload = undefined;
      }
      return { stream, id, payload };
    });
    await handle(entries);
    await this.redis.xack(stream, RedisKeys.gatewayGroup, ...entries.map((e) => e.id));
  }

  private async claimAbandoned(handle: (entries: StreamEntry[]) => Promise<void> | void): Promise<void> {
    for (const stream of this.streams) {
      const result = (await this.redis.xautoclaim(stream, RedisKeys.gatewayGroup, this.consumer, this.claimIdleMs, '0-0', 'COUNT', 500)) as [
        string,
        [string, string[] | null][],
      ];
      const claimed = result[1].filter((e): e is [string, string[]] => e[1] !== null);
      if (claimed.length > 0) {
        this.log.info('claimed entries left by another replica', { stream, count: claimed.length });
        await this.process(stream, claimed, handle);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
