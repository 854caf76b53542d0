import {
  DEFAULT_DASHBOARD_SETTINGS,
  DEFAULT_SERVER_CONFIG,
  type LogEntry,
  type MetricsSample,
  type ModelView,
  type Snapshot,
} from '@llamaproxy/shared';

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
    models: [model('alpha')],
    llama: [],
    config: DEFAULT_SERVER_CONFIG,
    settings: DEFAULT_DASHBOARD_SETTINGS,
    metrics: null,
    logs: logRange(1, 3),
    logsTruncated: false,
    cursors: { logId: 3, eventSeq: 10 },
    ...patch,
  };
}
