import { createServer, type Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import { Server } from 'socket.io';
import { JOB_TIMEOUT_MS, JobName, PRESENCE_REFRESH_MS, RedisKeys, SOCKET_MAX_BUFFER_BYTES, SOCKET_PATH } from '@llamaproxy/shared';
import { errorMeta, HfHubClient, type Logger } from '@llamaproxy/shared/node';
import { createAlerting, type Alerting } from './alerting.js';
import type { GatewayConfig } from './config.js';
import { openDatabase, type Db } from './db/database.js';
import { DatabaseCondition } from './db/database-errors.js';
import type { VacuumSetup } from './db/space.js';
import { createHttpApp } from './handlers/http.handler.js';
import { createAuthRouter } from './handlers/auth.routes.js';
import { createRequestHandlers } from './handlers/request-handlers.js';
import { shareSettings } from './handlers/settings.handlers.js';
import { attachRequestHandlers, createHandshake, dropHandshakeRequest, createRequestLimiter, SocketRooms } from './handlers/socket.handler.js';
import { AuditRepository } from './repositories/audit.repository.js';
import { ApiActivityRepository } from './repositories/api-activity.repository.js';
import { ApiKeyRepository } from './repositories/api-key.repository.js';
import { CaptureRepository } from './repositories/capture.repository.js';
import { LlamaUpstream } from './repositories/llama-upstream.js';
import { createOpenAiRouter } from './handlers/openai.routes.js';
import { ActivityFeed } from './services/activity-feed.js';
import { ApiActivityWriter } from './services/api-activity-writer.js';
import { ApiKeysService } from './services/api-keys.service.js';
import { ApiMetrics } from './services/api-metrics.js';
import { runLogRetention } from './services/log-retention.js';
import { OpenAiProxy } from './services/openai-proxy.service.js';
import { ProxyTrust } from './repositories/proxy-trust.js';
import { SessionRepository } from './repositories/session.repository.js';
import { UserRepository } from './repositories/user.repository.js';
import { ActivityLog } from './services/activity-log.js';
import { AuditService } from './services/audit.service.js';
import { AuthService } from './services/auth.service.js';
import { JobService } from './services/job.service.js';
import { PresetChanges } from './services/preset-changes.js';
import { SnapshotService } from './services/snapshot.service.js';
import { ModelFeed } from './services/model-feed.js';
import { UsersService } from './services/users.service.js';
import { ControlQueue } from './repositories/control-queue.js';
import { JobRepository } from './repositories/job.repository.js';
import { readNodeModels, readNodeSnapshot, readPresence } from './repositories/node-snapshot.js';
import { NodeWatch } from './services/node-watch.js';
import { LogRepository } from './repositories/log.repository.js';
import { MetricsRepository } from './repositories/metrics.repository.js';
import { ModelRepository } from './repositories/model.repository.js';
import { StateRepository } from './repositories/state.repository.js';
import { StreamConsumer } from './repositories/stream-consumer.js';
import { Broadcaster, type IoServer } from './services/broadcaster.js';
import { DashboardState } from './services/dashboard-state.js';
import { IngestService } from './services/ingest.service.js';
import { PlacementRedis } from './repositories/placement-redis.js';
import { PlacementSettingsRepository } from './repositories/placement-settings.repository.js';
import { LastUsedFeed } from './services/last-used-feed.js';
import { MemoryReports } from './services/memory-reports.js';
import { OnDemandLoad } from './services/on-demand-load.js';
import { PlacementSettingsService } from './services/placement-settings.service.js';
import { DownloadQueue } from './repositories/download-queue.js';
import { DownloadService } from './services/downloads.service.js';

export interface GatewayApp {
  readonly port: number;
  /** The Socket.IO server once `start()` has run; null before (benchmarks reach it through this). */
  readonly io: IoServer | null;
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

const DAY = 86_400_000;

/** Composes the gateway. Nothing opens or listens until `start()`. */
export function createApp(config: GatewayConfig, logger: Logger): GatewayApp {
  let db: Db | null = null;
  let http: HttpServer | null = null;
  let io: IoServer | null = null;
  let consumer: StreamConsumer | null = null;
  let control: ControlQueue | null = null;
  let downloadQueue: DownloadQueue | null = null;
  let pruneTimer: NodeJS.Timeout | null = null;
  /** Set by shutdown: a retention run between two slices stops quietly (the database is closing). */
  let stopping = false;
  let watchTimer: NodeJS.Timeout | null = null;
  let presenceTimer: NodeJS.Timeout | null = null;
  let stopProxies: () => void = () => undefined;
  let alerting: Alerting | null = null;
  let apiWriter: ApiActivityWriter | null = null;
  let upstream: LlamaUpstream | null = null;
  let lastUsed: LastUsedFeed | null = null;
  const redisClients: Redis[] = [];
  let port = config.port;

  const redisClient = (options: RedisOptions = {}): Redis => {
    const client = new Redis(config.redisUrl, { maxRetriesPerRequest: 2, ...options });
    client.on('error', (err) => logger.debug('redis error', { error: err.message }));
    redisClients.push(client);
    return client;
  };

  return {
    get port() {
      return port;
    },

    get io() {
      return io;
    },

    async start(): Promise<void> {
      const database = openDatabase(config.dbPath, { onVacuumSetup: (setup) => logVacuumSetup(logger, setup) });
      db = database;
      const databaseCondition = new DatabaseCondition(logger);
      const models = new ModelRepository(database);
      const logs = new LogRepository(database);
      const metrics = new MetricsRepository(database);
      const state = new StateRepository(database);
      const dashboard = new DashboardState(state, models, config.initialServerConfig);
      const jobRepo = new JobRepository(database);
      dashboard.seedApplied();

      const redis = redisClient();
      const pub = redisClient();
      // The Socket.IO redis adapter publishes every broadcast without awaiting it: a publish that
      // fails because Redis just went away would be an unhandled rejection and end the process
      // (tests/faults/redis-outage.test.ts). The failure is noted here; clients resync on reconnect.
      const publish = pub.publish.bind(pub) as (...args: unknown[]) => Promise<number>;
      pub.publish = ((...args: unknown[]) => {
        const sent = publish(...args);
        sent.catch((err: unknown) => logger.debug('broadcast publish failed', errorMeta(err)));
        return sent;
      });
      const sub = pub.duplicate();
      // duplicate() copies the options, not the listeners: without its own, the adapter prints
      // "missing 'error' handler on this Redis client" to stderr on the first error.
      sub.on('error', (err) => logger.debug('redis error', { error: err.message }));
      redisClients.push(sub);

      const users = new UserRepository(database);
      const sessions = new SessionRepository(database);
      const auditRepo = new AuditRepository(database);
      // The /v1 endpoint (handlers/openai.routes.ts): keys, activity, the router upstream.
      const apiActivity = new ApiActivityRepository(database);
      const apiKeys = new ApiKeysService(new ApiKeyRepository(database), config.api.environmentKeys, Date.now, { selfService: config.api.keysSelfService });
      const llama = new LlamaUpstream(config.api.llamaUrl, config.api.llamaApiKey);
      upstream = llama;
      const apiMetrics = new ApiMetrics();
      // The live Activity push needs the Socket.IO server, created below.
      let activityFeed: ActivityFeed | null = null;
      const captures = new CaptureRepository(database);
      const writer = new ApiActivityWriter({
        repo: apiActivity,
        captures,
        afterFlush: (stored) => {
          apiKeys.flushLastUsed();
          activityFeed?.publish(stored);
        },
        logger,
      });
      apiWriter = writer;
      const openai = new OpenAiProxy({ listModels: () => llama.listModels(), redis, limits: { modelConcurrency: config.api.modelConcurrency, modelsCacheMs: 1000 },
        onUnavailable: (err) => logger.warn('llama-server model list unavailable', { error: err.message }) });
      // Memory-aware placement (#14): settings handed to supervisors, the recency feed, memory
      // reports, and the /v1 load on demand (bound once the job service exists, below).
      const placementRedis = new PlacementRedis(redis);
      const memoryReports = new MemoryReports(state);
      const lastUsedFeed = new LastUsedFeed({ write: (modelId, at) => placementRedis.raiseLastUsed(modelId, at), logger });
      lastUsed = lastUsedFeed;
      let onDemand: OnDemandLoad | null = null;
      // The kicker needs the Socket.IO server, which needs the HTTP app: it is bound below.
      let kick: (room: string) => void = () => undefined;
      const proxies = new ProxyTrust(config.auth.trustedProxies, config.auth.internalProxies);
      await proxies.start();
      stopProxies = () => proxies.stop();
      const auth = new AuthService({
        config: config.auth,
        proxies,
        users,
        sessions,
        state,
        redis,
        kicker: { kickUser: (id) => kick(SocketRooms.user(id)), kickSession: (hash) => kick(SocketRooms.session(hash)) },
        logger,
      });
      await auth.bootstrap();
      let audit: AuditService | null = null;

      const app = createHttpApp(
        {
          redis: async () => (await redis.ping().catch(() => null)) === 'PONG',
          database: () => {
            try {
              return database.prepare('SELECT 1 AS ok').get() !== undefined;
            } catch {
              return false;
            }
          },
        },
        config.webDistDir,
        (express) => {
          express.use('/api/auth', createAuthRouter({ auth, audit: { record: async (input) => requireAudit().record(input) }, allowedOrigins: config.auth.allowedOrigins, logger }));
          express.use('/v1', createOpenAiRouter({
            auth, keys: apiKeys, proxy: openai, upstream: llama, activity: writer, metrics: apiMetrics, capture: captures,
            allowedOrigins: config.auth.allowedOrigins, bodyLimitBytes: config.api.maxBodyBytes, logger,
            ensureLoaded: async (model, cached) => {
              if (onDemand === null) {
                return false;
              }
              if (cached) {
                return onDemand.ensureLoadedCached(model);
              }
              await onDemand.ensureLoaded(model);
              return false;
            },
            markUsed: (model) => lastUsedFeed.touch(model),
          }));
          express.get('/metrics', (_req, res) => {
            void apiMetrics.text().then((text) => res.type('text/plain; version=0.0.4').send(text));
          });
        },
      );
      const requireAudit = (): AuditService => {
        if (audit === null) {
          throw new Error('audit service used before start');
        }
        return audit;
      };
      const server = createServer(app);
      http = server;
      const ioServer: IoServer = new Server(server, {
        path: SOCKET_PATH,
        transports: ['websocket'],
        maxHttpBufferSize: SOCKET_MAX_BUFFER_BYTES,
        serveClient: false,
        adapter: createAdapter(pub, sub, { key: RedisKeys.socketIoPrefix }),
      });
      io = ioServer;
      // Socket.IO keeps each session's first HTTP request unless told not to (its docs: "Memory
      // usage"); the few headers identity needs are copied first (the handshake reads them later).
      const proxyHeaders = [config.auth.proxy.userHeader, config.auth.proxy.groupsHeader];
      ioServer.engine.on('connection', (raw: Parameters<typeof dropHandshakeRequest>[0]) => dropHandshakeRequest(raw, proxyHeaders));
      kick = (room) => void ioServer.in(room).disconnectSockets(true);
      const broadcaster = new Broadcaster(ioServer, redis);
      activityFeed = new ActivityFeed(broadcaster, { admins: SocketRooms.admins, user: SocketRooms.user });
      const feed = new ModelFeed(dashboard, broadcaster);
      control = new ControlQueue(config.redisUrl, config.nodeId, logger);
      const activity = new ActivityLog({ logs, broadcaster, nodeId: config.nodeId, logger });
      audit = new AuditService(auditRepo, activity, logger, databaseCondition);
      const jobs = new JobService({ control, jobs: jobRepo, dashboard, broadcaster, feed, activity, logger });
      const presets = new PresetChanges({ dashboard, jobs, broadcaster, feed });
      onDemand = new OnDemandLoad({
        jobs, mode: () => memoryReports.mode(config.nodeId), status: (modelId, fresh) => openai.modelStatus(modelId, fresh), waitMs: JOB_TIMEOUT_MS[JobName.modelLoad], logger,
      });
      const placement = new PlacementSettingsService({
        repo: new PlacementSettingsRepository(database), state, share: (settings) => placementRedis.shareSettings(settings),
        broadcast: (doc) => broadcaster.broadcast('placement:updated', doc), logger,
      });
      const snapshots = new SnapshotService({ dashboard, logs, broadcaster, placement: { memory: () => memoryReports.all(), settings: () => placement.current() } });
      const alerts = createAlerting({
        config, db: database, redis, state, dashboard, logger,
        broadcast: { firing: (firing) => broadcaster.broadcast('alerts:firing', { firing }), delivery: (delivery) => broadcaster.broadcast('alerts:delivery', { delivery }) },
      });
      alerting = alerts;
      downloadQueue = new DownloadQueue(config.redisUrl, config.nodeId, logger);
      const downloads = new DownloadService({
        queue: downloadQueue,
        hub: new HfHubClient({ endpoint: config.downloads.hfEndpoint, token: config.downloads.hfToken }),
        latestMetrics: () => dashboard.latestMetrics(),
        broadcaster, activity, redis, enabled: config.downloads.enabled, logger,
      });
      await downloadQueue.init((jobId, kind) => void downloads.onEvent(jobId, kind).catch((err: unknown) => logger.debug('download update failed', errorMeta(err))));
      const handlers = createRequestHandlers({
        dashboard, jobs, presets, logs, metrics, broadcaster, redis, snapshots,
        users: new UsersService(users, auth), auth, sessions, audit: auditRepo, apiKeys, apiActivity, captures, placement,
        ...alerts.handlers,
        downloads,
      });
      await shareSettings(redis, dashboard.settings());
      await placement.shareStored();
      await control.init((update) => void jobs.onJobUpdate(update).catch((err: unknown) => logger.warn('job update failed', errorMeta(err))));

      const handshake = createHandshake(auth, config);
      ioServer.use(handshake.middleware);
      const limit = createRequestLimiter(config.limits);
      const socketLog = logger.child({ module: 'socket' });
      ioServer.on('connection', (socket) => {
        socket.on('disconnect', () => handshake.release(socket));
        attachRequestHandlers(socket, { handlers, auth, audit: requireAudit(), limit, log: socketLog, database: databaseCondition });
        void snapshots
          .snapshot(socket.data.identity)
          .then((snapshot) => socket.emit('snapshot', { type: 'broadcast', event: 'snapshot', data: snapshot, seq: snapshot.cursors.eventSeq, timestamp: Date.now() }))
          .catch((err: unknown) => logger.warn('snapshot failed', errorMeta(err)));
      });

      const ingest = new IngestService({
        db: database,
        models,
        logs,
        metrics,
        state,
        dashboard,
        broadcaster,
        feed,
        logger,
        offlineAfterMs: config.nodeOfflineAfterMs,
        readNodeModels: (nodeId) => readNodeModels(redis, nodeId),
        memory: memoryReports,
      });
      consumer = new StreamConsumer(redisClient({ maxRetriesPerRequest: null }), [RedisKeys.statusStream, RedisKeys.logStream, RedisKeys.metricsStream], config.replicaId, logger, {
        onFailure: (err) => databaseCondition.failed(err, 'stream ingest') !== null,
        onSuccess: () => databaseCondition.succeeded(),
      });
      await consumer.init();
      consumer.start(ingest.handle);
      alerts.start();

      // What happened while no gateway listened: the node's last reported state, and the outcome
      // of every job still recorded as queued. Then the same checks run periodically: overdue jobs
      // fail as TIMEOUT, a node not heard from is shown offline.
      const nodeWatch = new NodeWatch({ state, broadcaster, offlineAfterMs: config.nodeOfflineAfterMs, presence: (ids) => readPresence(redis, ids) });
      // A supervisor that is gone shows stale within seconds (its presence key expired), not NODE_OFFLINE_AFTER_MS.
      presenceTimer = setInterval(() => {
        void nodeWatch.checkPresence().catch((err: unknown) => logger.debug('presence check failed', errorMeta(err)));
      }, PRESENCE_REFRESH_MS);
      presenceTimer.unref();
      const reconcile = async (): Promise<void> => {
        await ingest.reconcile(await readNodeSnapshot(redis, config.nodeId)).catch((err: unknown) => logger.warn('node snapshot reconcile failed', errorMeta(err)));
        await jobs.reconcile().catch((err: unknown) => logger.warn('job reconcile failed', errorMeta(err)));
      };
      await reconcile();
      let ticks = 0;
      watchTimer = setInterval(() => {
        ticks++;
        void nodeWatch.check().catch((err: unknown) => logger.warn('node watch failed', errorMeta(err)));
        if (ticks % 6 === 0) {
          void jobs.reconcile().catch((err: unknown) => logger.debug('job reconcile failed', errorMeta(err)));
        }
      }, 5000);
      watchTimer.unref();

      let pruning = false;
      const prune = async (): Promise<void> => {
        // A run still in progress (slices yield to the event loop) is not started twice.
        if (pruning) {
          return;
        }
        pruning = true;
        try {
          const r = dashboard.settings().retention;
          const hour = 3_600_000;
          metrics.prune({ raw: r.rawHours * hour, minute: r.minuteDays * DAY, hour: r.hourDays * DAY });
          state.pruneIngested(DAY);
          jobRepo.prune(7 * DAY);
          auth.pruneSessions();
          auditRepo.prune(config.auth.auditRetentionMs);
          alerts.prune();
          apiActivity.prune(config.api.activityRetentionMs);
          // Last: it also returns the pages the prunes above freed, in slices.
          const run = await runLogRetention(logs, database, {
            maxRows: r.logsMaxRows,
            maxAgeMs: r.logsMaxAgeDays * DAY,
            pause: async () => {
              await new Promise((resolve) => setImmediate(resolve));
              if (stopping) {
                throw new Error('the gateway is shutting down');
              }
            },
          });
          if (run.freedPages > 0) {
            logger.info('database space returned', { pages: run.freedPages, freePagesLeft: run.freePagesLeft, logLinesRemoved: run.removed });
          }
        } catch (err) {
          if (!stopping) {
            logger.warn('pruning failed', errorMeta(err));
          }
        } finally {
          pruning = false;
        }
      };
      void prune();
      pruneTimer = setInterval(() => void prune(), config.pruneIntervalMs);
      pruneTimer.unref();

      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => resolve());
      });
      const address = server.address();
      port = typeof address === 'object' && address !== null ? address.port : config.port;
      logger.info('gateway listening', { host: config.host, port, replica: config.replicaId, db: config.dbPath });
    },

    async shutdown(): Promise<void> {
      // Reverse order: stop accepting, stop ingesting (the current batch is stored and
      // acknowledged first), close sockets and queues, then Redis and the database.
      stopping = true;
      if (pruneTimer !== null) {
        clearInterval(pruneTimer);
      }
      if (watchTimer !== null) {
        clearInterval(watchTimer);
      }
      if (presenceTimer !== null) {
        clearInterval(presenceTimer);
      }
      stopProxies();
      http?.close();
      apiWriter?.flush();
      lastUsed?.close();
      upstream?.close();
      await consumer?.stop();
      if (io !== null) {
        await io.close().catch(() => undefined);
      }
      await alerting?.close();
      await control?.close();
      await downloadQueue?.close();
      for (const client of redisClients) {
        client.disconnect();
      }
      db?.close();
    },
  };
}

/** The start-up log line of the incremental-vacuum step (db/space.ts): only when it did or skipped something. */
function logVacuumSetup(logger: Logger, setup: VacuumSetup): void {
  if (setup.action === 'vacuumed') {
    logger.info('database vacuumed once to turn on incremental vacuum', { ms: setup.ms, bytesBefore: setup.bytesBefore, bytesAfter: setup.bytesAfter });
  } else if (setup.action === 'skipped') {
    logger.warn('incremental vacuum not turned on yet; pruned log space is not returned until it is', { reason: setup.reason, bytes: setup.bytes });
  }
}
