import { access, constants } from 'node:fs/promises';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { downloadCancelKey, downloadQueueName, QUEUE_PREFIX } from '@llamaproxy/shared';
import { HfHubClient, type Logger } from '@llamaproxy/shared/node';
import type { SupervisorConfig } from '../config.js';
import { ModelDownloader, PARTIAL_MAX_AGE_MS } from '../repositories/model-downloader.js';
import { DownloadHandler } from './download.handler.js';

/**
 * Starts the node's downloads worker (BullMQ, DOWNLOAD_CONCURRENCY at once). With MODEL_DOWNLOADS
 * off, or a models directory this process cannot write, it still takes jobs but fails each with
 * DOWNLOADS_DISABLED, so a request gets a clear answer instead of waiting for no one.
 */
export async function startDownloads(config: SupervisorConfig, logger: Logger, redis: Redis, rescan: () => Promise<unknown>): Promise<Worker> {
  const modelsDir = config.server.modelsDir;
  let enabled = config.downloads.enabled;
  if (enabled) {
    enabled = await access(modelsDir, constants.W_OK).then(
      () => true,
      () => false,
    );
    if (!enabled) {
      logger.warn('model downloads are off: the models directory is not writable (mount it read-write, or set MODEL_DOWNLOADS=off)', { modelsDir });
    }
  }
  const hub = new HfHubClient({ endpoint: config.downloads.hfEndpoint, token: config.downloads.hfToken });
  const downloader = new ModelDownloader({ modelsDir, hub });
  if (enabled) {
    const swept = await downloader.sweep(PARTIAL_MAX_AGE_MS).catch(() => 0);
    if (swept > 0) {
      logger.info('removed old partial downloads', { count: swept, maxAgeDays: PARTIAL_MAX_AGE_MS / 86_400_000 });
    }
  }
  const handler = new DownloadHandler({
    hub,
    downloader,
    isCancelled: async (jobId) => (await redis.exists(downloadCancelKey(jobId)).catch(() => 0)) > 0,
    rescan,
    enabled,
    logger,
  });
  const connection = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', (err) => logger.debug('downloads worker redis error', { error: err.message }));
  const worker = new Worker(downloadQueueName(config.nodeId), handler.process, {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency: config.downloads.concurrency,
    // The lock is renewed while a download runs; a killed supervisor's job is taken up again
    // (and resumed from its partial files) once its lock expires.
    lockDuration: config.downloads.lockMs,
    stalledInterval: config.downloads.lockMs,
    maxStalledCount: 3,
  });
  worker.on('error', (err) => logger.warn('downloads worker error', { error: err.message }));
  await worker.waitUntilReady();
  logger.info('taking download jobs', { queue: downloadQueueName(config.nodeId), concurrency: config.downloads.concurrency, enabled, hub: config.downloads.hfEndpoint, token: config.downloads.hfToken !== null });
  return worker;
}
