import { Redis } from 'ioredis';
import { STREAM_FIELD } from '@llamaproxy/shared';
import { waitFor, type WaitOptions } from './wait-for.js';

/**
 * Records every entry of a Redis stream (from its beginning) in the background, so a test can
 * wait for the message it expects. Parsing is left to the caller (with the shared schemas).
 */
export class StreamRecorder {
  readonly entries: unknown[] = [];
  private readonly redis: Redis;
  private readonly stream: string;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(redisUrl: string, stream: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    // A fault test stops Redis under it: reconnecting is ioredis's job, not an unhandled error.
    this.redis.on('error', () => undefined);
    this.stream = stream;
    this.loop = this.read();
  }

  private async read(): Promise<void> {
    let lastId = '0';
    while (this.running) {
      const result = await this.redis.xread('COUNT', 1000, 'BLOCK', 200, 'STREAMS', this.stream, lastId).catch(() => null);
      for (const [, entries] of result ?? []) {
        for (const [id, fields] of entries) {
          lastId = id;
          const index = fields.indexOf(STREAM_FIELD);
          const raw = index >= 0 ? fields[index + 1] : undefined;
          if (raw !== undefined) {
            this.entries.push(JSON.parse(raw) as unknown);
          }
        }
      }
    }
  }

  /** Waits for an entry matching `predicate` (checked against everything recorded so far too). */
  async waitFor<T>(predicate: (entry: unknown) => T | undefined | false, options: WaitOptions = {}): Promise<T> {
    return waitFor(
      () => {
        for (const entry of this.entries) {
          const match = predicate(entry);
          if (match !== undefined && match !== false) {
            return match;
          }
        }
        return undefined;
      },
      { timeoutMs: 30_000, ...options },
    );
  }

  async close(): Promise<void> {
    this.running = false;
    // Disconnect first: with Redis away (a fault test), a pending XREAD would wait for it forever.
    this.redis.disconnect();
    await this.loop;
  }
}

/** Appends one message to a stream in the services' format (what a supervisor or collector sends). */
export async function publishToStream(redis: Redis, stream: string, payload: unknown): Promise<string> {
  return (await redis.xadd(stream, '*', STREAM_FIELD, JSON.stringify(payload))) as string;
}
