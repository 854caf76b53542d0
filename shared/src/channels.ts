import { z } from 'zod';
import { LlamaArgCatalogueSchema, LlamaStatusSchema } from './llama.js';
import { LogRecordSchema } from './logs.js';
import { MetricsSampleSchema } from './metrics.js';
import { CatalogueEntrySchema, CatalogueSchema, ModelStateSchema } from './models.js';
import { MemoryReportSchema } from './placement.js';

/**
 * Redis names. Services report to the gateway through Redis Streams read by a consumer group,
 * so with N gateway replicas every message is stored (and broadcast) by exactly one of them.
 */
export const RedisKeys = {
  /** Stream: supervisor → gateway status, catalogue and model events (StatusEvent). */
  statusStream: 'llamaproxy:stream:status',
  /** Stream: batched log records from every service (LogBatch). */
  logStream: 'llamaproxy:stream:logs',
  /** Stream: metrics samples (MetricsSample). */
  metricsStream: 'llamaproxy:stream:metrics',
  /** Consumer group the gateway replicas share on every stream. */
  gatewayGroup: 'gateway',
  /** Hash per node: the latest value of each snapshot kind (field = kind), for late joiners. */
  nodeSnapshot: (nodeId: string) => `llamaproxy:node:${nodeId}:snapshot`,
  /** Set of known supervisor node ids. */
  nodes: 'llamaproxy:nodes',
  /** Pub/sub: settings that services read live (e.g. the metrics interval). */
  settingsChannel: 'llamaproxy:settings',
  /** The current dashboard settings, for a service that starts after the last change. */
  settingsKey: 'llamaproxy:settings:current',
  /** Counter of state-changing broadcasts: the clients' `eventSeq` cursor. */
  broadcastSeq: 'llamaproxy:broadcast:seq',
  /** Socket.IO redis-adapter key prefix. */
  socketIoPrefix: 'llamaproxy:sio',
  /** String: the PlacementSettings document as JSON (the gateway writes it; supervisors read it). */
  placementSettingsKey: 'llamaproxy:placement:settings',
  /** Pub/sub: the gateway publishes the PlacementSettings JSON here after each change (reread the key). */
  placementSettingsChannel: 'llamaproxy:placement:settings:changed',
  /** Hash: model id → epoch ms (decimal) of its last real `/v1` request; the gateway writes it, throttled. */
  placementLastUsed: 'llamaproxy:placement:last-used',
} as const;

/** Streams are capped (approximately) so a gateway outage cannot grow Redis without bound. */
export const STREAM_MAX_LEN = { status: 10_000, logs: 100_000, metrics: 20_000 } as const;

/** How often a supervisor republishes its full state (ms): its heartbeat. */
export const STATUS_REPUBLISH_MS = 10_000;

/**
 * A node not heard from for this long (ms) is shown offline: three missed heartbeats, so one
 * slow write or a short Redis hiccup does not flap it.
 */
export const NODE_OFFLINE_AFTER_MS = 3 * STATUS_REPUBLISH_MS + 5_000;

/** Field of a stream entry that carries the JSON payload. */
export const STREAM_FIELD = 'data';

/** What a supervisor reports on the status stream. */
export const StatusEventSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('llama'), nodeId: z.string(), status: LlamaStatusSchema }),
  /**
   * One model's state changed (a delta). `prevDigest`/`digest`: the node's model-state digest
   * before and after this change (see the `state` heartbeat); absent from older supervisors.
   */
  z.object({ kind: z.literal('model'), nodeId: z.string(), model: ModelStateSchema, prevDigest: z.string().optional(), digest: z.string().optional() }),
  z.object({ kind: z.literal('models'), nodeId: z.string(), models: z.array(ModelStateSchema) }),
  z.object({ kind: z.literal('catalogue'), nodeId: z.string(), catalogue: CatalogueSchema }),
  z.object({ kind: z.literal('args'), nodeId: z.string(), catalogue: LlamaArgCatalogueSchema }),
  /**
   * The node's heartbeat, sent every STATUS_REPUBLISH_MS and after every Redis reconnect: its
   * llama-server status and a digest of its model states (not the states: with thousands of
   * models that would be megabytes every few seconds). A gateway whose stored states do not
   * match `digest` reads them all once from the node's models hash (NodeRedisKeys.models).
   * `sentAt`: epoch ms when it was sent (a late-read entry does not mark a node online).
   * `modelCount`: how many model states the digest covers.
   */
  z.object({
    kind: z.literal('state'),
    nodeId: z.string(),
    sentAt: z.number(),
    status: LlamaStatusSchema,
    digest: z.string(),
    modelCount: z.number().int().nonnegative(),
  }),
  /**
   * Entries of a catalogue scan still in progress (issue 17: the Models page fills in while a large
   * directory is read): stored as they come, nothing removed. The complete `catalogue` follows.
   */
  z.object({ kind: z.literal('catalogue-entries'), nodeId: z.string(), entries: z.array(CatalogueEntrySchema) }),
  /** The node's memory report (placement): devices, budgets, resident models, footprints. On change and with the heartbeat. */
  z.object({ kind: z.literal('memory'), nodeId: z.string(), report: MemoryReportSchema }),
]);
export type StatusEvent = z.infer<typeof StatusEventSchema>;
export type StatusEventKind = StatusEvent['kind'];

export const LogBatchSchema = z.object({ records: z.array(LogRecordSchema).min(1).max(10_000) });
export type LogBatch = z.infer<typeof LogBatchSchema>;

export const MetricsEventSchema = z.object({ sample: MetricsSampleSchema });
export type MetricsEvent = z.infer<typeof MetricsEventSchema>;

/**
 * Per-node Redis keys beside RedisKeys.nodeSnapshot (issue 17, scale):
 * - `models`: hash, field = model id, value = that model's ModelState JSON, plus the field
 *   NODE_MODELS_DIGEST_FIELD with the digest of all of them. Written with every delta (one field),
 *   so the node's snapshot costs what changed, not the whole list.
 * - `presence`: a key the supervisor sets every PRESENCE_REFRESH_MS with a PRESENCE_TTL_MS expiry
 *   (value: its boot id). Gone means the supervisor is gone (killed, crashed, stopped): the gateway
 *   marks that node stale within about PRESENCE_TTL_MS instead of NODE_OFFLINE_AFTER_MS.
 */
export const NodeRedisKeys = {
  models: (nodeId: string) => `llamaproxy:node:${nodeId}:models`,
  presence: (nodeId: string) => `llamaproxy:node:${nodeId}:presence`,
} as const;

/** Field of NodeRedisKeys.models that holds the digest of the model states (not a model id: ids never start with a NUL). */
export const NODE_MODELS_DIGEST_FIELD = '\0digest';

/** How often a supervisor refreshes its presence key (ms). */
export const PRESENCE_REFRESH_MS = 1_000;

/** Expiry of the presence key (ms): three missed refreshes. */
export const PRESENCE_TTL_MS = 3_000;
