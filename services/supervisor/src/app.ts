import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { controlQueueName, formatArgPolicyProblem, PRESENCE_REFRESH_MS, QUEUE_PREFIX, STATUS_REPUBLISH_MS, type LlamaArgCatalogue, type ServerConfig, type StatusEvent } from '@llamaproxy/shared';
import { ConfigError, errorMeta, ForwardTransport, type Logger } from '@llamaproxy/shared/node';
import type { SupervisorConfig } from './config.js';
import { ControlHandler } from './handlers/control.handler.js';
import { EventPublisher } from './repositories/event-publisher.js';
import { probeLlamaBinary } from './repositories/llama-binary.js';
import { InstanceMemory } from './repositories/instance-memory.js';
import { LlamaPidFile } from './repositories/llama-pid-file.js';
import { PlacementRedis } from './repositories/placement-redis.js';
import { LlamaProcess, llamaEnv } from './repositories/llama-process.js';
import { JsonFile, PresetFile } from './repositories/preset-file.js';
import { CatalogueCacheFile } from './repositories/catalogue-cache-file.js';
import { RouterClient } from './repositories/router-client.js';
import { ArgGuard } from './services/arg-guard.js';
import { CatalogueScanner } from './services/catalogue.js';
import { parseLlamaHelp } from './services/llama-help.js';
import { LlamaSupervisor } from './services/llama-supervisor.js';
import { LogBatcher } from './services/log-batcher.js';
import type { StoredFootprints } from './services/placement/placement-service.js';
import { startDownloads } from './handlers/downloads-worker.js';

export interface SupervisorApp {
  supervisor: LlamaSupervisor;
  start(): Promise<void>;
  shutdown(deadlineMs: number): Promise<void>;
}

/** Composes the supervisor from its parts. No side effects until `start()`. */
export function createApp(config: SupervisorConfig, logger: Logger): SupervisorApp {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, enableOfflineQueue: true, lazyConnect: true });
  redis.on('error', (err) => logger.warn('redis error', { error: err.message }));
  const publisher = new EventPublisher(redis, config.nodeId);
  const batcher = new LogBatcher((records) => publisher.publishLogs(records), { intervalMs: config.logBatchMs });
  // The supervisor's own events (starts, crashes, jobs) go to the Logs page too, as source "supervisor".
  logger.add(
    new ForwardTransport({
      level: 'info',
      forward: ({ level, message, modelId }) =>
        batcher.add({ ts: Date.now(), level, source: 'supervisor', nodeId: config.nodeId, modelId, message: message.slice(0, 16_000) }),
    }),
  );
  const placementRedis = new PlacementRedis(redis, logger);
  let worker: Worker | null = null;
  let supervisor: LlamaSupervisor | null = null;
  let republishTimer: NodeJS.Timeout | null = null;
  let downloadsWorker: Worker | null = null;

  // The heartbeat: llama-server's status and the digest of every model state, every
  // STATUS_REPUBLISH_MS, and at once (with the whole state written again) after every reconnect.
  const republish = (full: boolean): void => {
    const sup = supervisor;
    if (sup === null) {
      return;
    }
    publisher.republish(sup.status, full).catch((err: unknown) => logger.debug('cannot republish state', errorMeta(err)));
    if (sup.placement !== null) {
      publish({ kind: 'memory', nodeId: config.nodeId, report: sup.placement.report() });
    }
  };
  let connectedOnce = false;
  redis.on('ready', () => {
    if (connectedOnce) {
      logger.info('redis reconnected; republishing the full state');
      republish(true);
    }
    connectedOnce = true;
  });
  // Presence: a key that expires PRESENCE_TTL_MS after this process stops refreshing it, so the
  // gateway shows this node stale within seconds of a kill (see NodeRedisKeys.presence).
  const bootId = `${process.pid}-${randomUUID()}`;
  let presenceTimer: NodeJS.Timeout | null = null;
  const refreshPresence = (): void => {
    publisher.refreshPresence(bootId).catch((err: unknown) => logger.debug('cannot refresh presence', errorMeta(err)));
  };

  const publish = (event: StatusEvent): void => {
    publisher.publishStatus(event).catch((err: unknown) => logger.warn('cannot publish status', { kind: event.kind, ...errorMeta(err) }));
  };

  return {
    get supervisor(): LlamaSupervisor {
      if (supervisor === null) {
        throw new Error('supervisor not started');
      }
      return supervisor;
    },

    async start(): Promise<void> {
      await redis.connect();
      refreshPresence();
      presenceTimer = setInterval(refreshPresence, PRESENCE_REFRESH_MS);
      presenceTimer.unref();
      let args: LlamaArgCatalogue | null = null;
      try {
        const probe = await probeLlamaBinary(config.llamaServerBin);
        args = { nodeId: config.nodeId, version: probe.version, args: parseLlamaHelp(probe.help) };
        logger.info('llama-server binary found', { bin: config.llamaServerBin, version: probe.version, args: args.args.length });
      } catch (err) {
        logger.error('cannot run llama-server', { bin: config.llamaServerBin, ...errorMeta(err) });
      }
      const pidFile = new LlamaPidFile(join(config.dataDir, 'llama-server.pid'), config.llamaServerBin);
      const guard = new ArgGuard({ modelsDir: config.server.modelsDir, allow: config.allowArgs, args: args?.args ?? null });
      if (args !== null) {
        args = { ...args, policy: guard.info };
      }
      // LLAMA_EXTRA_ARGS again, now that aliases resolve (-hfr) and paths can be followed. Without a
      // catalogue, names only it could resolve wait: llama-server does not start anyway.
      const refused = guard.extraArgsPolicyProblems(config.server.extraArgs).filter((p) => args !== null || p.key !== null);
      if (refused.length > 0) {
        throw new ConfigError('supervisor', [
          { key: 'LLAMA_EXTRA_ARGS', message: `${refused.map(formatArgPolicyProblem).join('; ')} (LLAMA_ALLOW_ARGS can allow it)` },
        ]);
      }

      const sup = new LlamaSupervisor(
        config.server,
        {
          nodeId: config.nodeId,
          startTimeoutMs: config.startTimeoutMs,
          stopGraceMs: config.stopGraceMs,
          backoff: config.backoff,
          reconcileIntervalMs: config.reconcileIntervalMs,
          scanIntervalMs: config.scanIntervalMs,
        },
        {
          logger,
          // The API key goes to llama-server (and its model instances) through the environment only.
          // It runs in the models directory: relative paths in its arguments mean files there.
          spawn: (argv) => {
            const proc = new LlamaProcess(config.llamaServerBin, argv, llamaEnv(config.llamaApiKey), config.server.modelsDir);
            pidFile.record(proc.pid);
            return proc;
          },
          connect: (url) => new RouterClient(url, { apiKey: config.llamaApiKey }),
          scanner: new CatalogueScanner(config.nodeId, config.server.modelsDir, { cache: new CatalogueCacheFile(join(config.dataDir, 'catalogue-cache.json')) }),
          presets: new PresetFile(config.presetPath),
          appliedConfig: new JsonFile<ServerConfig>(config.appliedConfigPath),
          args,
          guard,
          placement: {
            options: {
              mode: config.placement.mode,
              ramBudgetBytes: config.placement.ramBudgetBytes,
              ramReserveBytes: config.placement.ramReserveBytes,
              gpuReserveBytes: config.placement.gpuReserveBytes,
              inFlightWaitMs: config.placement.inFlightWaitMs,
              idleCheckMs: config.placement.idleCheckMs,
            },
            memory: new InstanceMemory(),
            redis: placementRedis,
            store: new JsonFile<StoredFootprints>(config.placement.footprintsPath),
          },
        },
      );
      supervisor = sup;
      sup.on('status', (status) => publish({ kind: 'llama', nodeId: config.nodeId, status }));
      sup.on('model', (model) => publisher.modelChanged(model));
      sup.on('modelRemoved', (modelId) => publisher.modelRemoved(modelId));
      sup.on('catalogue', (catalogue) => publish({ kind: 'catalogue', nodeId: config.nodeId, catalogue }));
      sup.on('catalogueEntries', (entries) => publish({ kind: 'catalogue-entries', nodeId: config.nodeId, entries }));
      sup.on('log', (record) => batcher.add(record));
      sup.on('memory', (report) => publish({ kind: 'memory', nodeId: config.nodeId, report }));
      if (args !== null) {
        publish({ kind: 'args', nodeId: config.nodeId, catalogue: args });
      }
      publish({ kind: 'llama', nodeId: config.nodeId, status: sup.status });

      await sup.init();
      // A llama-server whose supervisor was killed (SIGKILL, OOM) still holds the port.
      await pidFile.reapLeftover(logger);
      if (config.autostart) {
        await sup.start().catch((err: unknown) => logger.error('llama-server did not start', errorMeta(err)));
      }
      republish(false);
      republishTimer = setInterval(() => republish(false), STATUS_REPUBLISH_MS);
      republishTimer.unref();

      const handler = new ControlHandler(sup, logger);
      // The worker's own connection gets an error listener too: without one, ioredis prints every
      // failed reconnect as an unhandled error (a Redis outage, or Redis stopping first at exit).
      const workerRedis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
      workerRedis.on('error', (err) => logger.debug('worker redis error', { error: err.message }));
      worker = new Worker(controlQueueName(config.nodeId), handler.process, {
        connection: workerRedis,
        prefix: QUEUE_PREFIX,
        concurrency: config.workerConcurrency,
        // A load can take minutes; the lock is renewed while the job runs.
        lockDuration: 60_000,
      });
      worker.on('error', (err) => logger.warn('worker error', { error: err.message }));
      await worker.waitUntilReady();
      logger.info('taking control jobs', { queue: controlQueueName(config.nodeId) });
      downloadsWorker = await startDownloads(config, logger, redis, () => sup.rescan());
      // Last: reading thousands of GGUF headers shares this event loop with everything above.
      sup.watchCatalogue();
    },

    async shutdown(deadlineMs: number): Promise<void> {
      const deadline = Date.now() + deadlineMs;
      if (republishTimer !== null) {
        clearInterval(republishTimer);
      }
      if (presenceTimer !== null) {
        clearInterval(presenceTimer);
      }
      // 1. Stop taking jobs; give running ones a moment, then stop anyway.
      if (worker !== null) {
        await Promise.race([worker.close(), delay(Math.max(0, deadline - Date.now() - config.stopGraceMs - 1000))]);
        await worker.close(true).catch(() => undefined);
      }
      // Downloads stop at once: their partial files stay and the next supervisor resumes them.
      await downloadsWorker?.close(true).catch(() => undefined);
      // 2. Stop llama-server (SIGTERM, SIGKILL after the grace period).
      await supervisor?.close();
      await placementRedis.close();
      // 3. Hand over the last logs and the final status, then close Redis.
      await batcher.flush();
      await publisher.flush().catch(() => undefined);
      if (supervisor !== null) {
        await publisher.publishStatus({ kind: 'llama', nodeId: config.nodeId, status: supervisor.status }).catch(() => undefined);
      }
      await publisher.clearPresence().catch(() => undefined);
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
