import {
  DEFAULT_DASHBOARD_SETTINGS,
  DEFAULT_SERVER_CONFIG,
  type AuditEntry,
  type ConnectionIdentity,
  type LogEntry,
  type MetricsSample,
  type ModelView,
  type Role,
  type SessionView,
  type Snapshot,
  type UserView,
} from '@llamaproxy/shared';

/** A signed-in user with `role` in `local` mode; `none` mode when no role is given (everyone is admin). */
export function identity(role?: Role, username = `${role ?? 'anyone'}-user`): ConnectionIdentity {
  return role === undefined
    ? { mode: 'none', user: null, role: 'admin' }
    : { mode: 'local', user: { id: `id-${username}`, username, role }, role };
}

export function userView(username: string, patch: Partial<UserView> = {}): UserView {
  return { id: `id-${username}`, username, role: 'viewer', disabled: false, origin: 'local', createdAt: 1_700_000_000_000, lastSeenAt: null, ...patch };
}

export function sessionView(handle: string, patch: Partial<SessionView> = {}): SessionView {
  return {
    handle,
    userId: 'id-alice',
    username: 'alice',
    createdAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_100_000,
    expiresAt: 1_700_600_000_000,
    address: '127.0.0.1',
    userAgent: 'Chromium',
    current: false,
    ...patch,
  };
}

export function auditEntry(id: number, patch: Partial<AuditEntry> = {}): AuditEntry {
  return {
    id,
    ts: 1_700_000_000_000 + id * 1000,
    userId: 'id-alice',
    username: 'alice',
    role: 'admin',
    address: '127.0.0.1',
    event: 'users:create',
    target: 'bob',
    summary: '{"username":"bob","password":"***","role":"viewer"}',
    outcome: 'ok',
    errorCode: null,
    requestId: null,
    ...patch,
  };
}

export function logEntry(id: number, message = `line ${id}`): LogEntry {
  return { id, ts: 1_700_000_000_000 + id, level: 'info', source: 'gateway', nodeId: null, modelId: null, message };
}

export function logRange(from: number, to: number): LogEntry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => logEntry(from + i));
}

export function model(id: string, patch: Partial<ModelView> = {}): ModelView {
  return {
    id,
    nodeId: 'node-1',
    path: `${id}.gguf`,
    layout: 'single',
    files: [`${id}.gguf`],
    mmproj: null,
    sizeBytes: 1_000_000,
    modifiedAt: 0,
    valid: true,
    invalidReason: null,
    architecture: 'llama',
    name: id,
    quantization: 'Q4_K_M',
    parameterCount: 1_000_000_000,
    contextLength: 4096,
    state: { id, status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: 0 },
    settings: {},
    settingsRevision: 0,
    ...patch,
  };
}

export function sample(ts: number, cpu = 10): MetricsSample {
  return {
    ts,
    nodeId: 'node-1',
    cpu: { usagePct: cpu, perCorePct: [cpu], load: [0, 0, 0] },
    memory: { totalBytes: 1000, usedBytes: 500, swapTotalBytes: 0, swapUsedBytes: 0 },
    disks: [],
    network: { rxBytesPerSec: 0, txBytesPerSec: 0 },
    uptimeSec: 10,
    llamaProcess: null,
    gpus: [],
    models: [],
  };
}

export function snapshot(patch: Partial<Snapshot> = {}): Snapshot {
  return {
    identity: identity(),
    models: [model('alpha')],
    modelsTotal: 1,
    modelsNext: null,
    skipped: [],
    llama: [],
    config: DEFAULT_SERVER_CONFIG,
    settings: DEFAULT_DASHBOARD_SETTINGS,
    revisions: { config: 0, preset: 0, settings: 0 },
    nodes: [],
    metrics: null,
    logs: logRange(1, 3),
    logsTruncated: false,
    cursors: { logId: 3, eventSeq: 10 },
    ...patch,
  };
}
