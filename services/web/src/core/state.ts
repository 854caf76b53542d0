import type {
  ActivityRecord,
  BroadcastData,
  DeliveryView,
  DownloadView,
  FiringAlert,
  ConnectionIdentity,
  DashboardSettings,
  DocumentRevisions,
  LlamaStatus,
  LogEntry,
  MetricsSample,
  ModelView,
  NodeView,
  SkippedFile,
  PresetDocument,
  ServerConfig,
  MemoryReport,
  PlacementSettingsDoc,
} from '@llamaproxy/shared';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'offline';

export interface ConnectionState {
  status: ConnectionStatus;
  /** Reconnection attempt number while reconnecting. */
  attempt: number;
  /** Requests waiting for the connection. */
  queued: number;
}

/** The latest `jobs:progress` of a job, and when this client received it. */
export type JobState = BroadcastData['jobs:progress'] & { receivedAt: number };

export interface PresetState {
  preset: PresetDocument;
  ini: string;
}

/** Everything the dashboard shows. The server owns it; the client only mirrors it. */
export interface AppState {
  connection: ConnectionState;
  /** True once the first snapshot arrived. */
  ready: boolean;
  /**
   * Who this connection is and its role: from the sign-in session at start, then from every
   * snapshot (a role change reconnects the socket, and the next snapshot brings the new role).
   * Null until known; `can()` allows nothing then.
   */
  identity: ConnectionIdentity | null;
  models: ModelView[];
  llama: LlamaStatus[];
  config: ServerConfig | null;
  settings: DashboardSettings | null;
  /** Revisions of the shared documents: an editor sends the one it was filled from. */
  revisions: DocumentRevisions | null;
  /** Supervisor nodes and whether they are heard from. */
  nodes: NodeView[];
  /** Files of the models directories that the scan passed over, and why. */
  skipped: SkippedFile[];
  metrics: MetricsSample | null;
  /** The latest samples, oldest first, for the dashboard's small charts. */
  recentMetrics: MetricsSample[];
  /** The newest log entries, oldest first. */
  logs: LogEntry[];
  jobs: Record<string, JobState>;
  /** Not part of the snapshot: filled by `presets:get` and kept by `presets:updated`. */
  preset: PresetState | null;
  /** Alerts firing now, from the last `alerts:firing` broadcast (null until one arrived: the Alerts page asks). */
  alertsFiring: FiringAlert[] | null;
  /** The newest delivery that changed (`alerts:delivery`), for the Alerts page's history. */
  alertDelivery: DeliveryView | null;
  /** The latest `activity:new` push (newest first), for the Activity page to merge; null before one. */
  activityNew: ActivityRecord[] | null;
  /** Placement (#14): each node's newest memory report (devices, resident models, footprints). */
  memory: MemoryReport[];
  /** Placement settings (pin, TTL, load on start-up) and their revision; null until the snapshot has them. */
  placement: PlacementSettingsDoc | null;
  /** The newest download that changed (`downloads:progress`), for the Get models page's list. */
  downloadUpdate: DownloadView | null;
}

export const LIMITS = {
  logs: 1000,
  recentMetrics: 180,
  /** Models per `models:list` page when the client reads the list after a snapshot's first page. */
  modelPage: 1000,
  /** How long finished jobs stay in the state. */
  finishedJobMs: 60_000,
} as const;

export function initialState(): AppState {
  return {
    connection: { status: 'connecting', attempt: 0, queued: 0 },
    ready: false,
    identity: null,
    models: [],
    llama: [],
    config: null,
    settings: null,
    revisions: null,
    nodes: [],
    skipped: [],
    metrics: null,
    recentMetrics: [],
    logs: [],
    jobs: {},
    preset: null,
    alertsFiring: null,
    alertDelivery: null,
    activityNew: null,
    memory: [],
    placement: null,
    downloadUpdate: null,
  };
}
