import { createServer, type Server as HttpServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import { Server } from 'socket.io';
import { RedisKeys, SOCKET_MAX_BUFFER_BYTES, SOCKET_PATH } from '@llamaproxy/shared';
import { errorMeta, type Logger } from '@llamaproxy/shared/node';
import type { GatewayConfig } from './config.js';
import { openDatabase, type Db } from './db/database.js';
import { createHttpApp } from './handlers/http.handler.js';
import { attachRequestHandlers } from './handlers/socket.handler.js';
import { ControlQueue } from './repositories/control-queue.js';
import { LogRepository } from './repositories/log.repository.js';
import { MetricsRepository } from './repositories/metrics.repository.js';
import { ModelRepository } from './repositories/model.repository.js';
import { StateRepository } from './repositories/state.repository.js';
import { StreamConsumer } from './repositories/stream-consumer.js';
import { ApiService } from './services/api.service.js';
import { Broadcaster, type IoServer } from './services/broadcaster.js';
import { DashboardState } from './services/dashboard-state.js';
import { IngestService } from './services/ingest.service.js';

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
  let pruneTimer: NodeJS.Timeout | null = null;
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
      const database = openDatabase(config.dbPath);
      db = database;
      const models = new ModelRepository(database);
      const logs = new LogRepository(database);
      const metrics = new MetricsRepository(database);
      const state = new StateRepository(database);
      const dashboard = new DashboardState(state, models, config.initialServerConfig);

      const redis = redisClient();
      const pub = redisClient();
      const sub = pub.duplicate();
      redisClients.push(sub);

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
      );
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
      // usage"); identity is resolved from the handshake, which keeps its own copy of the headers.
      ioServer.engine.on('connection', (raw: { request: unknown }) => {
        raw.request = null;
      });
      const broadcaster = new Broadcaster(ioServer, redis);
      control = new ControlQueue(config.redisUrl, config.nodeId, logger);
      const api = new ApiService({ dashboard, logs, metrics, control, broadcaster, redis, logger });
      await api.shareSettings();
      await control.init((update) => void api.onJobUpdate(update).catch((err: unknown) => logger.warn('job update failed', errorMeta(err))));

      // Identity is resolved once per connection; sign-in will replace the default role here.
      ioServer.use((socket, next) => {
        socket.data.identity = { userId: null, role: config.defaultRole };
        next();
      });
      const socketLog = logger.child({ module: 'socket' });
      ioServer.on('connection', (socket) => {
        attachRequestHandlers(socket, api, socketLog);
        void api
          .snapshot()
          .then((snapshot) => socket.emit('snapshot', { type: 'broadcast', event: 'snapshot', data: snapshot, seq: snapshot.cursors.eventSeq, timestamp: Date.now() }))
          .catch((err: unknown) => logger.warn('snapshot failed', errorMeta(err)));
      });

      const ingest = new IngestService({ db: database, models, logs, metrics, state, dashboard, broadcaster, logger });
      consumer = new StreamConsumer(redisClient({ maxRetriesPerRequest: null }), [RedisKeys.statusStream, RedisKeys.logStream, RedisKeys.metricsStream], config.replicaId, logger);
      await consumer.init();
      consumer.start(ingest.handle);

      const prune = (): void => {
        try {
          const r = dashboard.settings().retention;
          const hour = 3_600_000;
          metrics.prune({ raw: r.rawHours * hour, minute: r.minuteDays * DAY, hour: r.hourDays * DAY });
          logs.prune(r.logsMaxRows, r.logsMaxAgeDays * DAY);
          state.pruneIngested(DAY);
        } catch (err) {
          logger.warn('pruning failed', errorMeta(err));
        }
      };
      prune();
      pruneTimer = setInterval(prune, config.pruneIntervalMs);
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
      if (pruneTimer !== null) {
        clearInterval(pruneTimer);
      }
      http?.close();
      await consumer?.stop();
      if (io !== null) {
        await io.close().catch(() => undefined);
      }
      await control?.close();
      for (const client of redisClients) {
        client.disconnect();
      }
      db?.close();
    },
  };
}
