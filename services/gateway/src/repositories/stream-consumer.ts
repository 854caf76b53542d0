import type { Redis } from 'ioredis';
import { RedisKeys, STREAM_FIELD } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

export interface StreamEntry {
  stream: string;
  id: string;
  payload: unknown;
}

export interface StreamConsumerOptions {
  /** Entries another replica left pending this long are claimed (default 30 s). */
  claimIdleMs?: number;
  /** First and longest wait before a failed read or store is tried again (default 500 ms, 4 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * Told of each failure; returns true when it has dealt with (and logged) the error itself, as a
   * full disk is logged once per condition. A failure it returns true for is retried first for as
   * long as it lasts; any other is retried first `promptRetries` times (a batch that fails for
   * another reason then waits for the claim after `claimIdleMs`, so it cannot stall the stream).
   */
  onFailure?: (err: unknown) => boolean;
  /** After each batch stored and acknowledged. */
  onSuccess?: () => void;
  /**
   * Acknowledged entries older than this (ms) are trimmed from the streams (`trimAcknowledged`);
   * null: never (the streams are then bounded by their MAXLEN caps only). Default STREAM_TRIM_KEEP_MS.
   */
  trimKeepMs?: number | null;
  /** How often the streams are trimmed, at most (default 10 s). */
  trimIntervalMs?: number;
}

/**
 * Acknowledged entries stay in the streams this long (ms): a reader outside the consumer group (a
 * test's recorder, an operator's `XRANGE`) still sees recent traffic. Older ones are trimmed, so
 * Redis holds about this much of each stream instead of filling it to its MAXLEN cap.
 */
export const STREAM_TRIM_KEEP_MS = 60_000;

/** Stream ids compare as (milliseconds, sequence). */
function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? am - bm : as - bs;
}

/** Consecutive failures of an unrecognised kind retried before new entries are read again. */
const PROMPT_RETRIES = 5;

/**
 * Reads the services' streams as one member of the gateways' consumer group: each entry goes to
 * exactly one replica, which stores it and acknowledges it. Entries a dead replica left pending
 * are claimed after `claimIdleMs`. Processing must be idempotent per entry id (see claimStreamEntry).
 *
 * Entries this consumer read but could not store (a full disk) stay pending in its own list: it
 * reads that list first (`XREADGROUP ... 0`), after a backoff of `retryMinMs` doubling to
 * `retryMaxMs`, and reads new entries only once the list is empty. So a batch is stored again
 * within seconds of the disk having space, and a stream's entries are still stored in their order.
 * The same happens at start, for what a previous life of this replica left pending.
 */
export class StreamConsumer {
  private readonly redis: Redis;
  private readonly streams: readonly string[];
  private readonly consumer: string;
  private readonly log: Logger;
  private readonly claimIdleMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly onFailure: (err: unknown) => boolean;
  private readonly onSuccess: () => void;
  private readonly trimKeepMs: number | null;
  private readonly trimIntervalMs: number;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(redis: Redis, streams: readonly string[], consumer: string, logger: Logger, options: StreamConsumerOptions = {}) {
    this.redis = redis;
    this.streams = streams;
    this.consumer = consumer;
    this.log = logger.child({ module: 'stream-consumer' });
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
    this.retryMinMs = options.retryMinMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 4000;
    this.onFailure = options.onFailure ?? (() => false);
    this.onSuccess = options.onSuccess ?? (() => undefined);
    this.trimKeepMs = options.trimKeepMs === undefined ? STREAM_TRIM_KEEP_MS : options.trimKeepMs;
    this.trimIntervalMs = options.trimIntervalMs ?? 10_000;
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
      let lastTrim = Date.now();
      // Own pending entries first: at start (a previous life's), and after every failure.
      let ownPendingFirst = true;
      let failures = 0;
      let retryMs = 0;
      while (this.running) {
        try {
          if (Date.now() - lastClaim > this.claimIdleMs / 2) {
            lastClaim = Date.now();
            await this.claimAbandoned(handle);
          }
          if (ownPendingFirst) {
            const result = (await this.redis.xreadgroup(
              'GROUP', RedisKeys.gatewayGroup, this.consumer,
              'COUNT', 500,
              'STREAMS', ...this.streams, ...this.streams.map(() => '0'),
            )) as [string, [string, string[] | null][]][] | null;
            let any = false;
            for (const [stream, raw] of result ?? []) {
              any ||= raw.length > 0;
              await this.process(stream, raw, handle);
            }
            ownPendingFirst = any;
          } else {
            const result = (await this.redis.xreadgroup(
              'GROUP', RedisKeys.gatewayGroup, this.consumer,
              'COUNT', 500, 'BLOCK', 500,
              'STREAMS', ...this.streams, ...this.streams.map(() => '>'),
            )) as [string, [string, string[]][]][] | null;
            for (const [stream, raw] of result ?? []) {
              await this.process(stream, raw, handle);
            }
          }
          failures = 0;
          retryMs = 0;
          if (this.trimKeepMs !== null && Date.now() - lastTrim >= this.trimIntervalMs) {
            lastTrim = Date.now();
            await this.trimAcknowledged(this.trimKeepMs).catch((err: unknown) => this.log.debug('stream trim failed', { error: (err as Error).message }));
          }
        } catch (err) {
          if (this.running) {
            failures++;
            retryMs = Math.min(this.retryMaxMs, retryMs === 0 ? this.retryMinMs : retryMs * 2);
            const known = this.onFailure(err);
            if (!known) {
              this.log.warn('stream read or store failed', { error: (err as Error).message, failures, retryInMs: retryMs });
            }
            ownPendingFirst = known || failures <= PROMPT_RETRIES;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, retryMs);
              this.wake = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            this.wake = null;
          }
        }
      }
    })();
  }

  /** Stores and acknowledges one stream's entries; an entry trimmed from the stream meanwhile (no fields) is only acknowledged. */
  private async process(stream: string, raw: [string, string[] | null][], handle: (entries: StreamEntry[]) => Promise<void> | void): Promise<void> {
    if (raw.length === 0) {
      return;
    }
    const entries = raw.flatMap(([id, fields]) => {
      if (fields === null) {
        return [];
      }
      const index = fields.indexOf(STREAM_FIELD);
      const text = index >= 0 ? fields[index + 1] : undefined;
      let payload: unknown = undefined;
      try {
        payload = text === undefined ? undefined : (JSON.parse(text) as unknown);
      } catch {
        payload = undefined;
      }
      return [{ stream, id, payload }];
    });
    if (entries.length > 0) {
      await handle(entries);
      this.onSuccess();
    }
    await this.redis.xack(stream, RedisKeys.gatewayGroup, ...raw.map(([id]) => id));
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

  /**
   * Removes entries that every consumer group of each stream has acknowledged and that are older
   * than `keepMs` (`XTRIM MINID ~`, whole radix-tree nodes, so a few more may stay). An entry is
   * acknowledged when it is at or before the group's last-delivered id and not pending (delivered
   * but not yet acknowledged, by any replica). Returns the entries removed per stream.
   */
  async trimAcknowledged(keepMs: number, now = Date.now()): Promise<Record<string, number>> {
    const removed: Record<string, number> = {};
    for (const stream of this.streams) {
      let floor = `${Math.max(0, Math.floor(now - keepMs))}-0`;
      const groups = (await this.redis.xinfo('GROUPS', stream)) as unknown[][];
      if (groups.length === 0) {
        // Nobody reads it as a group (yet): nothing is known to be stored.
        continue;
      }
      for (const fields of groups) {
        const info = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) {
          info.set(String(fields[i]), String(fields[i + 1]));
        }
        const name = info.get('name') ?? RedisKeys.gatewayGroup;
        const lastDelivered = info.get('last-delivered-id') ?? '0-0';
        if (compareStreamIds(lastDelivered, floor) < 0) {
          floor = lastDelivered;
        }
        if (Number(info.get('pending') ?? 0) > 0) {
          const summary = (await this.redis.xpending(stream, name)) as [number, string | null, string | null, unknown];
          if (summary[1] !== null && compareStreamIds(summary[1], floor) < 0) {
            floor = summary[1];
          }
        }
      }
      removed[stream] = await this.redis.xtrim(stream, 'MINID', '~', floor);
    }
    return removed;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }
}
