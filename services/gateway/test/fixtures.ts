import type { Catalogue, LlamaStatus, LogRecord, MetricsSample } from '@llamaproxy/shared';

export function catalogue(nodeId: string, ids: string[]): Catalogue {
  return {
    nodeId,
    modelsDir: '/models',
    scannedAt: Date.now(),
    entries: ids.map((id) => ({
      id,
      path: `${id}.gguf`,
      layout: 'single' as const,
      files: [`${id}.gguf`],
      mmproj: null,
      sizeBytes: 224_800,
      modifiedAt: Date.now(),
      valid: true,
      invalidReason: null,
      architecture: 'llama',
      name: id,
      quantization: 'F16',
      parameterCount: 106_816,
      contextLength: 2048,
    })),
  };
}

export function llamaStatus(nodeId: string, state: LlamaStatus['state'] = 'running'): LlamaStatus {
  return {
    nodeId,
    state,
    pid: 1234,
    url: 'http://127.0.0.1:8080',
    startedAt: Date.now(),
    restarts: 0,
    nextRestartAt: null,
    lastExit: null,
    args: ['--models-dir', '/models'],
    updatedAt: Date.now(),
  };
}

export function logRecords(nodeId: string, n: number, prefix = 'line'): LogRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    ts: Date.now(),
    level: 'info' as const,
    source: 'llama-server' as const,
    nodeId,
    modelId: null,
    message: `${prefix} ${i}`,
  }));
}

export function sample(nodeId: string, ts: number, cpu: number): MetricsSample {
  return {
    ts,
    nodeId,
    cpu: { usagePct: cpu, perCorePct: [cpu, cpu], load: [0.5, 0.4, 0.3] },
    memory: { totalBytes: 1000, usedBytes: 500, swapTotalBytes: 0, swapUsedBytes: 0 },
    disks: [],
    network: { rxBytesPerSec: 1, txBytesPerSec: 2 },
    uptimeSec: 100,
    llamaProcess: null,
    gpus: [],
    models: [],
  };
}
