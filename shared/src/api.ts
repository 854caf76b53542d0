import { z } from 'zod';
import type { AuditEntry, AuthMode, Me, SessionView, UserView } from './auth.js';
import { AuditOutcome, PasswordSchema, Role, RoleSchema, UsernameSchema } from './auth.js';
import type { DashboardSettings, ServerConfig } from './config.js';
import { DashboardSettingsSchema, RevisionSchema, ServerConfigPatchSchema } from './config.js';
import type { ErrorInfo } from './errors.js';
import type { JobName, JobProgress } from './jobs.js';
import type { LlamaArgCatalogue, LlamaStatus } from './llama.js';
import type { LogEntry } from './logs.js';
import { LogLevelSchema, LogSourceSchema } from './logs.js';
import type { MetricsPoint, MetricsSample } from './metrics.js';
import { MetricsResolution } from './metrics.js';
import type { CatalogueEntry, ModelState } from './models.js';
import { ModelIdSchema } from './models.js';
import type { ModelKey } from './model-page.js';
import { ModelListQuerySchema } from './model-page.js';
import type { PresetDocument, IniProblem } from './presets.js';
import { PresetDocumentSchema, PresetValuesSchema } from './presets.js';
import type { AlertRule, ChannelView, DeliveryView, FiringAlert } from './alerts.js';
import { AlertRuleIdSchema, AlertRuleInputSchema, ChannelConfigPatchSchema, ChannelIdSchema, ChannelNameSchema } from './alerts.js';
import type { ActivityRecord, ApiKeyView, CapturedExchange, CaptureSettings, UsageRow } from './openai.js';
import { ActivityQuerySchema, ApiKeyCreateSchema, CaptureUpdateSchema, UsageQuerySchema } from './openai.js';
import type { MemoryReport } from './placement.js';
import type { PlacementSettingsDoc } from './placement-requests.js';
import { PlacementUpdateSchema } from './placement-requests.js';
import type { DownloadView, HfFileGroup, HfModelSummary } from './downloads.js';
import { HfFilePathSchema, HfRepoIdSchema } from './downloads.js';

/** Socket.IO path of the browser API. */
export const SOCKET_PATH = '/llamaproxws';
/** Largest accepted Socket.IO message. */
export const SOCKET_MAX_BUFFER_BYTES = 1_000_000;


const RequestBase = z.object({ requestId: z.string().min(1).max(128).optional() });
const WithModel = RequestBase.extend({ modelId: ModelIdSchema });
const UserIdSchema = z.string().min(1).max(64);
/**
 * The revision the caller edited (see RevisionSchema): a stale one is refused with CONFLICT, which
 * carries the current document. Required on every update of a revisioned document, so no caller
 * overwrites a change it never saw; to overwrite on purpose, send again under `current.revision`.
 */
const BaseRevision = RevisionSchema;

/**
 * Every request event: the role it needs, whether it changes state (audited, and never sent by a
 * read-only caller), and its payload schema. The gateway parses each payload with its schema
 * before acting; clients use the same map for their types and to hide what a role cannot do.
 */
export const RequestEvents = {
  /** One page of the model list (see ModelListQuerySchema): cursor, limit, search text. */
  'models:list': { role: Role.viewer, changes: false, payload: RequestBase.extend(ModelListQuerySchema.shape) },
  'models:get': { role: Role.viewer, changes: false, payload: WithModel },
  'models:load': { role: Role.operator, changes: true, payload: WithModel },
  'models:unload': { role: Role.operator, changes: true, payload: WithModel },
  'models:rescan': { role: Role.operator, changes: true, payload: RequestBase },
  'models:settings:get': { role: Role.viewer, changes: false, payload: WithModel },
  'models:settings:update': { role: Role.admin, changes: true, payload: WithModel.extend({ settings: PresetValuesSchema, revision: RevisionSchema }) },
  'presets:get': { role: Role.viewer, changes: false, payload: RequestBase },
  'presets:update': {
    role: Role.admin,
    changes: true,
    payload: z.union([
      RequestBase.extend({ preset: PresetDocumentSchema, revision: BaseRevision }),
      RequestBase.extend({ ini: z.string().max(512_000), revision: BaseRevision }),
    ]),
  },
  'presets:validate': {
    role: Role.viewer,
    changes: false,
    payload: z.union([
      RequestBase.extend({ preset: PresetDocumentSchema }),
      RequestBase.extend({ ini: z.string().max(512_000) }),
    ]),
  },
  'llama:status': { role: Role.viewer, changes: false, payload: RequestBase },
  'llama:start': { role: Role.operator, changes: true, payload: RequestBase },
  'llama:stop': { role: Role.operator, changes: true, payload: RequestBase },
  'llama:restart': { role: Role.operator, changes: true, payload: RequestBase },
  'llama:args': { role: Role.viewer, changes: false, payload: RequestBase },
  'config:get': { role: Role.viewer, changes: false, payload: RequestBase },
  'config:update': { role: Role.admin, changes: true, payload: RequestBase.extend({ config: ServerConfigPatchSchema, revision: BaseRevision }) },
  'metrics:latest': { role: Role.viewer, changes: false, payload: RequestBase },
  'metrics:history': {
    role: Role.viewer,
    changes: false,
    payload: RequestBase.extend({
      from: z.number(),
      to: z.number(),
      resolution: z.enum(MetricsResolution).default('auto'),
      /** Series names, e.g. "cpu.usagePct", "gpu.0.utilizationPct", "model.<id>.genTokensPerSec". */
      series: z.array(z.string().max(600)).min(1).max(64),
    }),
  },
  'logs:query': {
    role: Role.viewer,
    changes: false,
    payload: RequestBase.extend({
      level: LogLevelSchema.optional(),
      source: LogSourceSchema.optional(),
      modelId: z.string().max(512).optional(),
      text: z.string().max(512).optional(),
      /** One supervisor node's lines (`nodeId` of the entries). */
      nodeId: z.string().max(256).optional(),
      /** Lines with `ts` at or after `from` / at or before `to` (ms since the epoch, inclusive). */
      from: z.number().int().nonnegative().optional(),
      to: z.number().int().nonnegative().optional(),
      /** Entries with id > afterId, oldest first (resume / live tail). */
      afterId: z.number().int().nonnegative().optional(),
      /** Entries with id < beforeId, newest first (scrolling back). */
      beforeId: z.number().int().positive().optional(),
      limit: z.number().int().min(1).max(5000).default(200),
    }),
  },
  'logs:clear': { role: Role.admin, changes: true, payload: RequestBase },
  'settings:get': { role: Role.viewer, changes: false, payload: RequestBase },
  'settings:update': {
    role: Role.admin,
    changes: true,
    payload: RequestBase.extend({ settings: DashboardSettingsSchema.partial(), revision: BaseRevision }),
  },
  'users:list': { role: Role.admin, changes: false, payload: RequestBase },
  'users:create': { role: Role.admin, changes: true, payload: RequestBase.extend({ username: UsernameSchema, password: PasswordSchema, role: RoleSchema }) },
  /** Change a user's role or disable them; their open sockets are disconnected and reconnect with the new identity. */
  'users:update': {
    role: Role.admin,
    changes: true,
    payload: RequestBase.extend({ userId: UserIdSchema, role: RoleSchema.optional(), disabled: z.boolean().optional() }),
  },
  /** Set a new password; every session of that user ends. */
  'users:password:reset': { role: Role.admin, changes: true, payload: RequestBase.extend({ userId: UserIdSchema, password: PasswordSchema }) },
  'users:delete': { role: Role.admin, changes: true, payload: RequestBase.extend({ userId: UserIdSchema }) },
  /** Sign-in sessions, of one user or of everyone. */
  'sessions:list': { role: Role.admin, changes: false, payload: RequestBase.extend({ userId: UserIdSchema.optional() }) },
  'sessions:revoke': { role: Role.admin, changes: true, payload: RequestBase.extend({ handle: z.string().regex(/^[0-9a-f]{16}$/) }) },
  /** Audit records, newest first. */
  'audit:query': {
    role: Role.admin,
    changes: false,
    payload: RequestBase.extend({
      username: z.string().max(64).optional(),
      /** An event name or its domain prefix (`users:`, `auth:`). */
      event: z.string().max(64).optional(),
      outcome: z.enum(AuditOutcome).optional(),
      from: z.number().optional(),
      to: z.number().optional(),
      beforeId: z.number().int().positive().optional(),
      limit: z.number().int().min(1).max(5000).default(200),
    }),
  },
  /**
   * API keys of the `/v1` endpoint: admins see and manage everyone's, others their own. Creating
   * one needs the operator role, as running a model does (viewers only look, see auth.spec.ts).
   */
  'apikeys:list': { role: Role.viewer, changes: false, payload: RequestBase },
  /** Creates a key; the answer is the only time the key itself is shown. */
  'apikeys:create': { role: Role.operator, changes: true, payload: RequestBase.extend(ApiKeyCreateSchema.shape) },
  'apikeys:revoke': { role: Role.operator, changes: true, payload: RequestBase.extend({ keyId: z.string().min(1).max(64) }) },
  /**
   * Self-service keys: with API_KEYS_SELF_SERVICE=true any signed-in user, viewers included,
   * creates and revokes keys for themselves only (no owner can be named; another user's key is
   * API_KEY_NOT_FOUND). The only events a viewer may send that change state: each is `own`, acts
   * on the caller's own records alone, and is refused (SELF_SERVICE_OFF) while the setting is off.
   */
  'apikeys:own:create': { role: Role.viewer, changes: true, own: true, payload: RequestBase.extend(ApiKeyCreateSchema.omit({ userId: true }).shape) },
  'apikeys:own:revoke': { role: Role.viewer, changes: true, own: true, payload: RequestBase.extend({ keyId: z.string().min(1).max(64) }) },
  /** Requests to the `/v1` endpoint, newest first (admins: everyone's; others: their own). */
  'activity:query': { role: Role.viewer, changes: false, payload: RequestBase.extend(ActivityQuerySchema.shape) },
  /** Totals per day, week or month, key, user and model since `from`. */
  'activity:usage': { role: Role.viewer, changes: false, payload: RequestBase.extend(UsageQuerySchema.shape) },
  /** The capture buffer of `/v1` prompts and outputs (admins only; see CaptureSettingsSchema): its settings and how many are kept. */
  'capture:get': { role: Role.admin, changes: false, payload: RequestBase },
  /** Turns capture on or off (off deletes everything kept) or changes its bounds; audited. */
  'capture:update': { role: Role.admin, changes: true, payload: RequestBase.extend(CaptureUpdateSchema.shape) },
  /** The captured prompt and output of one request (null when none is kept); audited although it is a read (`audited`). */
  'capture:view': { role: Role.admin, changes: false, audited: true, payload: RequestBase.extend({ activityId: z.number().int().positive() }) },
  /** Alerting (admins only): channels, rules, what is firing now. Channel secrets are never sent back. */
  'alerts:get': { role: Role.admin, changes: false, payload: RequestBase },
  'alerts:channels:create': {
    role: Role.admin,
    changes: true,
    payload: RequestBase.extend({ name: ChannelNameSchema, enabled: z.boolean().default(true), config: ChannelConfigPatchSchema }),
  },
  /** Secret fields left out of `config.secrets` keep their stored value; an empty string clears one. */
  'alerts:channels:update': {
    role: Role.admin,
    changes: true,
    payload: RequestBase.extend({ channelId: ChannelIdSchema, name: ChannelNameSchema.optional(), enabled: z.boolean().optional(), config: ChannelConfigPatchSchema.optional() }),
  },
  'alerts:channels:delete': { role: Role.admin, changes: true, payload: RequestBase.extend({ channelId: ChannelIdSchema }) },
  /** Sends a test message now (one attempt); fails with ALERT_DELIVERY_FAILED and why. */
  'alerts:channels:test': { role: Role.admin, changes: true, payload: RequestBase.extend({ channelId: ChannelIdSchema }) },
  /** Changes a built-in rule, or adds (no id) or changes a custom one. */
  'alerts:rules:save': { role: Role.admin, changes: true, payload: RequestBase.extend({ rule: AlertRuleInputSchema }) },
  'alerts:rules:delete': { role: Role.admin, changes: true, payload: RequestBase.extend({ ruleId: AlertRuleIdSchema }) },
  /** Silences a rule for `durationMs` (0 ends the silence). */
  'alerts:rules:silence': { role: Role.admin, changes: true, payload: RequestBase.extend({ ruleId: AlertRuleIdSchema, durationMs: z.number().int().min(0).max(30 * 86_400_000) }) },
  /** Delivery history, newest first. */
  'alerts:history': {
    role: Role.admin,
    changes: false,
    payload: RequestBase.extend({
      ruleId: z.string().max(64).optional(),
      channelId: z.string().max(64).optional(),
      beforeId: z.number().int().positive().optional(),
      limit: z.number().int().min(1).max(1000).default(100),
    }),
  },
  /**
   * Memory-aware placement settings (#14): per model pin / idle TTL / load on start-up, and the
   * global default TTL. Operators may change them, as they may load and unload models (they
   * change which model stays, not how llama-server runs it).
   */
  'placement:get': { role: Role.viewer, changes: false, payload: RequestBase },
  'placement:update': { role: Role.operator, changes: true, payload: RequestBase.extend(PlacementUpdateSchema.shape) },
  /**
   * Model downloads from the Hugging Face Hub. Searching and listing a repository are operator
   * requests (they reach the internet with the server's HF_TOKEN); a download adds files and is
   * an operator request like a load; deleting a model's files is for admins.
   */
  'hf:search': { role: Role.operator, changes: false, payload: RequestBase.extend({ query: z.string().max(200), limit: z.number().int().min(1).max(100).default(20) }) },
  /** A repository's GGUF files grouped as the router will see them (one row per quantization, split sets as one). */
  'hf:files': { role: Role.operator, changes: false, payload: RequestBase.extend({ repo: HfRepoIdSchema, revision: z.string().max(100).default('main') }) },
  'downloads:list': { role: Role.viewer, changes: false, payload: RequestBase },
  /** Queues a download of one row (and optionally a projector); `name` defaults to the row's suggested name. */
  'downloads:start': {
    role: Role.operator,
    changes: true,
    payload: RequestBase.extend({ repo: HfRepoIdSchema, revision: z.string().max(100).default('main'), files: z.array(HfFilePathSchema).min(1).max(256), name: z.string().min(1).max(200).optional() }),
  },
  /** Stops a queued or running download; its partial files are removed. */
  'downloads:cancel': { role: Role.operator, changes: true, payload: RequestBase.extend({ downloadId: z.string().min(1).max(300) }) },
  /** Deletes a model's files (its file, or its folder) from the models directory; refused while it is loaded. */
  'models:delete': { role: Role.admin, changes: true, payload: WithModel },
  /** Full state, plus what happened since the client's cursors when it resumes. */
  'snapshot:get': {
    role: Role.viewer,
    changes: false,
    payload: RequestBase.extend({
      cursors: z.object({ logId: z.number().int().nonnegative(), eventSeq: z.number().int().nonnegative() }).optional(),
    }),
  },
} as const;

export type RequestEvent = keyof typeof RequestEvents;
export type RequestPayload<E extends RequestEvent> = z.input<(typeof RequestEvents)[E]['payload']>;
export type ParsedRequest<E extends RequestEvent> = z.output<(typeof RequestEvents)[E]['payload']>;

export const REQUEST_EVENT_NAMES = Object.keys(RequestEvents) as RequestEvent[];

export function isRequestEvent(name: string): name is RequestEvent {
  return Object.hasOwn(RequestEvents, name);
}

/** True when the event is recorded in the audit log: every state change, and reads marked `audited` (`capture:view`). */
export function isAuditedEvent(event: RequestEvent): boolean {
  const definition = RequestEvents[event];
  return definition.changes || ('audited' in definition && definition.audited);
}

/** True for an `own` event: it changes only the caller's own records (see `apikeys:own:create`). */
export function isOwnEvent(event: RequestEvent): boolean {
  const definition = RequestEvents[event];
  return 'own' in definition && definition.own;
}

/** A model as the dashboard shows it: the catalogue entry, its live state and its settings. */
export interface ModelView extends CatalogueEntry {
  nodeId: string;
  state: ModelState;
  /** This model's section of the preset (ctx-size, n-gpu-layers, load-on-startup, ...). */
  settings: Record<string, string>;
  /** Revision of `settings` (0 before the first change): `models:settings:update` names it. */
  settingsRevision: number;
}

/** Whether a supervisor node is heard from (status, or its periodic full state). */
export interface NodeView {
  nodeId: string;
  /** False once nothing was heard for NODE_OFFLINE_AFTER_MS; what the dashboard shows is then stale. */
  online: boolean;
  /** Epoch ms of the newest report from this node; null before the first. */
  lastHeardAt: number | null;
  /**
   * True when this node's models and llama-server status are the last known values, not live:
   * its supervisor is gone (its presence key expired, within seconds of a kill) or was not heard
   * from for NODE_OFFLINE_AFTER_MS. The same as `!online`, named for what a view should do: show
   * that node's model rows as stale. Optional for older gateways; absent means `!online`.
   */
  stale?: boolean;
}

/** Revisions of the shared documents, for the editors' next update. */
export interface DocumentRevisions {
  config: number;
  preset: number;
  settings: number;
}

/** A control job the gateway queued for a supervisor. */
export interface JobRef {
  jobId: string;
  name: JobName;
  /** What the job is about (the model id for model jobs), for display. */
  subject: string | null;
  nodeId: string;
  /** False when an identical job was already pending (deterministic id). */
  created: boolean;
}

export interface Cursors {
  /** Id of the newest log entry the client has. */
  logId: number;
  /** Sequence number of the newest broadcast the client has seen. */
  eventSeq: number;
}

/** Who this connection is, resolved once in the handshake. */
export interface ConnectionIdentity {
  mode: AuthMode;
  /** Null in `none` mode. */
  user: Me | null;
  role: Role;
}

/** A file in a node's models directory that the catalogue scan passed over (a dangling link, ...). */
export interface SkippedFile {
  nodeId: string;
  /** Relative to the models directory. */
  path: string;
  reason: string;
}

export interface Snapshot {
  identity: ConnectionIdentity;
  /** The first page of the model list (MODEL_FIRST_PAGE, in key order); `modelsNext` continues it. */
  models: ModelView[];
  /** How many models there are in all. */
  modelsTotal: number;
  /** The `models:list` cursor of the next page; null when `models` is the whole list. */
  modelsNext: string | null;
  /** Files of the models directories that are not models, and why (from each node's last scan). */
  skipped: SkippedFile[];
  llama: LlamaStatus[];
  config: ServerConfig;
  settings: DashboardSettings;
  revisions: DocumentRevisions;
  /** Every supervisor node and whether it is heard from. */
  nodes: NodeView[];
  metrics: MetricsSample | null;
  /** Newest log entries (or, when resuming, every entry after the client's cursor). */
  logs: LogEntry[];
  /** True when the gap was too large and the client must treat this as a fresh start. */
  logsTruncated: boolean;
  cursors: Cursors;
  /** The newest memory report of each node (placement); absent from gateways that do not keep it yet. */
  memory?: MemoryReport[];
  /** The placement settings (#14); absent from gateways that do not keep them yet. */
  placement?: PlacementSettingsDoc;
}

/** What each request answers with, on success. */
export interface ResponseData {
  /** `total`: models matching the query in all; `nextCursor`: null on the last page. */
  'models:list': { models: ModelView[]; total: number; nextCursor: string | null };
  'models:get': { model: ModelView };
  'models:load': { job: JobRef };
  'models:unload': { job: JobRef };
  'models:rescan': { job: JobRef };
  'models:settings:get': { modelId: string; settings: Record<string, string>; revision: number };
  'models:settings:update': { modelId: string; settings: Record<string, string>; revision: number; job: JobRef };
  'presets:get': { preset: PresetDocument; ini: string; revision: number };
  'presets:update': { preset: PresetDocument; ini: string; revision: number; job: JobRef };
  'presets:validate': { valid: boolean; problems: IniProblem[] };
  'llama:status': { nodes: LlamaStatus[] };
  'llama:start': { job: JobRef };
  'llama:stop': { job: JobRef };
  'llama:restart': { job: JobRef };
  'llama:args': { catalogue: LlamaArgCatalogue | null };
  'config:get': { config: ServerConfig; revision: number };
  'config:update': { config: ServerConfig; revision: number; job: JobRef };
  'metrics:latest': { sample: MetricsSample | null };
  'metrics:history': { resolution: Exclude<MetricsResolution, 'auto'>; series: Record<string, MetricsPoint[]> };
  'logs:query': { entries: LogEntry[]; hasMore: boolean };
  'logs:clear': { cleared: number };
  'settings:get': { settings: DashboardSettings; revision: number };
  'settings:update': { settings: DashboardSettings; revision: number };
  'users:list': { users: UserView[] };
  'users:create': { user: UserView };
  'users:update': { user: UserView };
  'users:password:reset': { user: UserView };
  'users:delete': { userId: string };
  'sessions:list': { sessions: SessionView[] };
  'sessions:revoke': { handle: string };
  'audit:query': { entries: AuditEntry[]; hasMore: boolean };
  /** `selfService`: whether API_KEYS_SELF_SERVICE lets every signed-in user manage their own keys. */
  'apikeys:list': { keys: ApiKeyView[]; selfService: boolean };
  'apikeys:create': { key: ApiKeyView; secret: string };
  'apikeys:revoke': { key: ApiKeyView };
  'apikeys:own:create': { key: ApiKeyView; secret: string };
  'apikeys:own:revoke': { key: ApiKeyView };
  'activity:query': { records: ActivityRecord[]; hasMore: boolean };
  'activity:usage': { rows: UsageRow[] };
  'capture:get': { settings: CaptureSettings; stored: number };
  'capture:update': { settings: CaptureSettings; stored: number };
  'capture:view': { capture: CapturedExchange | null };
  'alerts:get': { channels: ChannelView[]; rules: AlertRule[]; firing: FiringAlert[] };
  'alerts:channels:create': { channel: ChannelView };
  'alerts:channels:update': { channel: ChannelView };
  'alerts:channels:delete': { channelId: string };
  'alerts:channels:test': { delivery: DeliveryView };
  'alerts:rules:save': { rule: AlertRule };
  'alerts:rules:delete': { ruleId: string };
  'alerts:rules:silence': { rule: AlertRule };
  'alerts:history': { entries: DeliveryView[]; hasMore: boolean };
  'placement:get': PlacementSettingsDoc;
  'placement:update': PlacementSettingsDoc;
  'hf:search': { results: HfModelSummary[] };
  'hf:files': { repo: string; revision: string; groups: HfFileGroup[] };
  'downloads:list': { downloads: DownloadView[] };
  'downloads:start': { download: DownloadView };
  'downloads:cancel': { download: DownloadView };
  'models:delete': { job: JobRef };
  'snapshot:get': Snapshot;
}

/** The reply to a request, sent as the ack or as `<event>:result`. */
export type ResponseEnvelope<E extends RequestEvent = RequestEvent> =
  | { type: 'response'; event: E; success: true; data: ResponseData[E]; requestId: string | null; timestamp: number }
  | { type: 'response'; event: E; success: false; error: ErrorInfo; requestId: string | null; timestamp: number };

/** What the server pushes to every client. */
export interface BroadcastData {
  /**
   * Models added or changed (catalogue data, settings; whole views) and removed since the last
   * such broadcast; live state changes travel as `models:status`. `skipped` is the whole list of
   * skipped files, when it may have changed.
   */
  'models:changed': { upserted: ModelView[]; removed: ModelKey[]; skipped?: SkippedFile[] };
  'models:status': { nodeId: string; model: ModelState };
  'llama:status': { status: LlamaStatus };
  'metrics:update': { sample: MetricsSample };
  'logs:entry': { entries: LogEntry[] };
  'logs:cleared': { cleared: number };
  'jobs:progress': {
    job: JobRef;
    state: 'queued' | 'active' | 'progress' | 'completed' | 'failed';
    progress: JobProgress | null;
    error: ErrorInfo | null;
  };
  /** The stored (desired) configuration changed; the supervisor applies revisions in order. */
  'config:updated': { config: ServerConfig; revision: number };
  'settings:updated': { settings: DashboardSettings; revision: number };
  'presets:updated': { preset: PresetDocument; ini: string; revision: number };
  /** A node went offline (nothing heard for a while) or came back. */
  'nodes:status': { node: NodeView };
  /** The alerts firing now changed (whole list). */
  'alerts:firing': { firing: FiringAlert[] };
  /** A notification delivery was queued, attempted, delivered or failed (history, channel health). */
  'alerts:delivery': { delivery: DeliveryView };
  /**
   * `/v1` requests just stored, newest first: to admins all of them, to any other user their own.
   * Not a state change (its `seq` is the newest one, not a new one); a client that was away asks
   * `activity:query` with `afterId` for what it missed.
   */
  'activity:new': { records: ActivityRecord[] };
  /** A download was queued, progressed, finished, failed or was cancelled. */
  'downloads:progress': { download: DownloadView };
  'snapshot': Snapshot;
  /** A node's memory report changed (devices, resident models, footprints): replaces that node's. */
  'memory:update': { report: MemoryReport };
  /** The placement settings changed (#14): the whole document and its revision. */
  'placement:updated': PlacementSettingsDoc;
  /**
   * Many live states of one node's models at once (a node starting, a resync): what one stored
   * batch changed, each model's newest state, in place of one `models:status` per model. A batch
   * with few changes still sends `models:status` each; both advance the `eventSeq` by one.
   */
  'models:states': { nodeId: string; models: ModelState[] };
}
export type BroadcastEvent = keyof BroadcastData;

export interface BroadcastEnvelope<B extends BroadcastEvent = BroadcastEvent> {
  type: 'broadcast';
  event: B;
  data: BroadcastData[B];
  /** Increases by one per state-changing broadcast; the resume cursor `eventSeq`. */
  seq: number;
  timestamp: number;
}

/**
 * The ack is declared required so that `emitWithAck` infers the response type; a client may
 * still emit without one and receive `<event>:result` instead.
 */
type RequestHandlers = {
  [E in RequestEvent]: (payload: RequestPayload<E>, ack: (response: ResponseEnvelope<E>) => void) => void;
};
type ResultEvents = {
  [E in RequestEvent as `${E}:result`]: (response: ResponseEnvelope<E>) => void;
};
type BroadcastHandlers = {
  [B in BroadcastEvent]: (envelope: BroadcastEnvelope<B>) => void;
};

/** Socket.IO typed event maps, used by the gateway and by every client. */
export type ClientToServerEvents = RequestHandlers;
export type ServerToClientEvents = ResultEvents & BroadcastHandlers;
export type InterServerEvents = Record<string, never>;
export interface SocketData {
  /** Resolved once in the handshake middleware. */
  identity: ConnectionIdentity;
  /** SHA-256 (hex) of the session id in `local` mode; every request checks it is still valid. */
  sessionHash: string | null;
  /** The TCP peer (or the client address a trusted proxy reported). */
  address: string;
  /** True while this socket counts against the per-user and per-address connection caps. */
  counted?: boolean;
}

export function okResponse<E extends RequestEvent>(event: E, data: ResponseData[E], requestId: string | null): ResponseEnvelope<E> {
  return { type: 'response', event, success: true, data, requestId, timestamp: Date.now() };
}

export function errorResponse<E extends RequestEvent>(event: E, error: ErrorInfo, requestId: string | null): ResponseEnvelope<E> {
  return { type: 'response', event, success: false, error, requestId, timestamp: Date.now() };
}
