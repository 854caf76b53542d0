import type { Redis } from 'ioredis';
import { RedisKeys, STREAM_FIELD, STREAM_MAX_LEN, type MetricsEvent, type MetricsSample } from '@llamaproxy/shared';

/** Hands samples to the gateway: one entry per sample on the metrics stream (capped, approximately). */
export class SamplePublisher {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async publish(sample: MetricsSample): Promise<void> {
    const event: MetricsEvent = { sample };
    await this.redis.xadd(RedisKeys.metricsStream, 'MAXLEN', '~', STREAM_MAX_LEN.metrics, '*', STREAM_FIELD, JSON.stringify(event));
  }
}
