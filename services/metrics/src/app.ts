import { createServer, type Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import type { MetricsConfig } from './config.js';
import { createHttpHandler } from './handlers/http.handler.js';
import { DiskStats } from './repositories/disk-stats.js';
import { HostStats } from './repositories/host-stats.js';
import { LlamaClient } from './repositories/llama-client.js';
import { ProcessTable } from './repositories/process-table.js';
import { SamplePublisher } from './repositories/sample-publisher.js';
import { SettingsSubscriber } from './repositories/settings-subscriber.js';
import { SupervisedChild } from './repositories/supervised-child.js';
import { MetricsCollector, type Collected } from './services/collector.js';
import { GpuMonitor } from './services/gpu-monitor.js';
import { InferenceSampler } from './services/inference.js';
import { renderExposition } from './services/prometheus-exporter.js';
import { SelfStats } from './services/self-stats.js';
import { Ticker } from './services/ticker.js';

export interface MetricsApp {
  /** The Prometheus port actually bound (METRICS_PORT=0 picks a free one). */
  readonly port: number | null;
  start(): Promise<void>;
  shutdown(deadlineMs: number): Promise<void>;
}

const NVIDIA_SMI_BACKOFF = { minMs: 500, maxMs: 60_000 };
/** How often a missing nvidia-smi is looked for again (a driver may be installed later). */
const NVIDIA_SMI_ABSENT_RETRY_MS = 5 * 60_000;

/** Requests to llama-server never outlast a few intervals, nor 5 s. */
function llamaTimeoutMs(intervalMs: number): number {
  return Math.max(1000, Math.min(5000, intervalMs));
}

/** Composes the collector from its parts. No side effects until `start()`. */
export function createApp(config: MetricsConfig, logger: Logger): MetricsApp {
  // Samples are dropped, not queued, while Redis is away: a stale backlog helps nobody.
  const redis = new Redis(config.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const subscriber = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
  let redisDown = false;
  for (const client of [redis, subscriber]) {
    client.on('error', (err) => {
      if (!redisDown) {
        redisDown = true;
        logger.warn('redis unavailable; samples are dropped until it is back', { error: err.message });
      }
    });
    client.on('ready', () => {
      if (redisDown) {
        redisDown = false;
        logger.info('redis available again');
      }
    });
  }
  const publisher = new SamplePublisher(redis);
  const settings = new SettingsSubscriber(subscriber);

  const host = new HostStats(config.hostProc);
  const processes = new ProcessTable(config.llamaProcessName);
  const disks = new DiskStats(config.disks);
  const smi = (): SupervisedChild =>
    new SupervisedChild({ bin: config.nvidiaSmiBin, backoff: NVIDIA_SMI_BACKOFF, absentRetryMs: NVIDIA_SMI_ABSENT_RETRY_MS });
  const gpus = new GpuMonitor({ gpus: smi(), apps: smi(), logger });
  const client = new LlamaClient(config.llamaServerUrl, llamaTimeoutMs(config.intervalMs), config.llamaApiKey);
  const inference = new InferenceSampler(client, logger);
  const collector = new MetricsCollector({ nodeId: config.nodeId, host, processes, disks, gpus, inference });
  const self = new SelfStats();
  const log = logger.child({ module: 'collector' });

  let latest: Collected | null = null;
  let collectFailing = false;
  let publishFailing = false;

  const ticker = new Ticker(config.intervalMs, async (ts) => {
    const started = performance.now();
    try {
      latest = await collector.collect(ts);
      self.samples++;
      self.lastDurationMs = performance.now() - started;
      if (collectFailing) {
        collectFailing = false;
        log.info('sampling again');
      }
    } catch (err) {
      if (!collectFailing) {
        collectFailing = true;
        log.warn('cannot take a sample', errorMeta(err));
      }
      return;
    }
    try {
      await publisher.publish(latest.sample);
      if (publishFailing) {
        publishFailing = false;
        log.info('publishing samples again');
      }
    } catch (err) {
      self.publishErrors++;
      if (!publishFailing && !redisDown) {
        log.warn('cannot publish a sample', errorMeta(err));
      }
      publishFailing = true;
    }
  });

  const server: Server = createServer(
    createHttpHandler({
      metrics: () =>
        renderExposition({
          nodeId: config.nodeId,
          sample: latest?.sample ?? null,
          models: latest?.models ?? [],
          self: self.figures(ticker.interval, ticker.skipped),
        }),
      lastSampleTs: () => latest?.sample.ts ?? null,
    }),
  );
  server.keepAliveTimeout = 65_000;

  const setIntervalMs = (intervalMs: number): void => {
    if (intervalMs === ticker.interval) {
      return;
    }
    log.info('sampling interval changed', { from: ticker.interval, to: intervalMs });
    ticker.setInterval(intervalMs);
    client.timeoutMs = llamaTimeoutMs(intervalMs);
    gpus.setInterval(intervalMs).catch((err: unknown) => log.warn('cannot restart nvidia-smi', errorMeta(err)));
  };

  return {
    get port(): number | null {
      const address = server.address();
      return address !== null && typeof address === 'object' ? address.port : null;
    },

    async start(): Promise<void> {
      self.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.http.port, config.http.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // Redis may come later: sampling and the Prometheus endpoint do not wait for it.
      redis.connect().catch(() => undefined);
      subscriber.connect().catch(() => undefined);
      settings
        .subscribe(
          (s) => {
            if (s.metricsIntervalMs !== undefined) {
              setIntervalMs(s.metricsIntervalMs);
            }
          },
          (reason) => log.warn('ignoring a settings message', { reason }),
        )
        .catch((err: unknown) => log.warn('cannot subscribe to settings', errorMeta(err)));
      gpus.start(config.intervalMs);
      await collector.prime();
      ticker.start();
      log.info('collecting', {
        intervalMs: config.intervalMs,
        prometheus: `http://${config.http.host}:${this.port ?? config.http.port}/metrics`,
        llamaServer: config.llamaServerUrl,
        network: host.networkSource,
      });
    },

    async shutdown(deadlineMs: number): Promise<void> {
      const deadline = Date.now() + deadlineMs;
      await ticker.stop();
      server.closeAllConnections();
      await Promise.race([new Promise<void>((resolve) => server.close(() => resolve())), delay(Math.max(0, deadline - Date.now() - 1000))]);
      await gpus.stop();
      client.close();
      self.stop();
      await Promise.all([redis, subscriber].map((client) => closeRedis(client, Math.max(100, deadline - Date.now() - 500))));
      host.close();
      processes.close();
      disks.close();
    },
  };
}

/** QUIT when connected (bounded by `timeoutMs`); a client still trying to connect is just dropped. */
async function closeRedis(client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') {
    await Promise.race([client.quit().catch(() => undefined), delay(timeoutMs)]);
  }
  client.disconnect();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
