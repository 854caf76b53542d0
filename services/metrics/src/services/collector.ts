import type { MetricsSample } from '@llamaproxy/shared';
import type { DiskStats } from '../repositories/disk-stats.js';
import type { HostReading, HostStats } from '../repositories/host-stats.js';
import type { ProcessReading, ProcessTable } from '../repositories/process-table.js';
import type { GpuMonitor } from './gpu-monitor.js';
import type { InferenceSampler, ModelReading } from './inference.js';
import { counterRate, cpuPercent } from './proc-parsers.js';

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux ABI. */
const CLOCK_TICKS_PER_SEC = 100;

export interface CollectorParts {
  nodeId: string;
  host: HostStats;
  processes: ProcessTable;
  disks: DiskStats;
  gpus: GpuMonitor;
  inference: InferenceSampler;
}

export interface Collected {
  sample: MetricsSample;
  models: ModelReading[];
}

interface ProcessBaseline {
  ts: number;
  byPid: Map<number, ProcessReading>;
}

/**
 * Assembles one MetricsSample from the repositories: host counters and the llama-server process
 * tree turned into rates against the previous reading, disks, GPUs and per-model inference figures.
 */
export class MetricsCollector {
  private readonly parts: CollectorParts;
  private previousHost: { ts: number; reading: HostReading } | null = null;
  private previousProcesses: ProcessBaseline | null = null;
  private loadedModels = '';

  constructor(parts: CollectorParts) {
    this.parts = parts;
  }

  /** Takes the first readings, so the first sample already has rates. */
  async prime(ts = Date.now()): Promise<void> {
    this.previousHost = { ts, reading: this.parts.host.read() };
    this.previousProcesses = { ts, byPid: byPid(await this.parts.processes.scan()) };
  }

  async collect(ts = Date.now()): Promise<Collected> {
    const host = this.parts.host.read();
    const [disks, models] = await Promise.all([this.parts.disks.read(), this.parts.inference.sample(ts)]);
    // A model loaded or unloaded means a llama-server process came or went: look for it now.
    const loaded = models.map((m) => m.sample.modelId).sort().join('\n');
    if (loaded !== this.loadedModels) {
      this.loadedModels = loaded;
      this.parts.processes.rescan();
    }
    const processes = await this.parts.processes.scan();

    const prev = this.previousHost;
    const seconds = prev === null ? 0 : (ts - prev.ts) / 1000;
    const perCore = [...host.cpu.cores.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([core, times]) => round(cpuPercent(prev?.reading.cpu.cores.get(core), times)));
    const net = host.network;
    const prevNet = prev?.reading.network ?? undefined;
    this.previousHost = { ts, reading: host };

    const sample: MetricsSample = {
      ts,
      nodeId: this.parts.nodeId,
      cpu: { usagePct: round(cpuPercent(prev?.reading.cpu.all, host.cpu.all)), perCorePct: perCore, load: host.load },
      memory: host.memory,
      disks,
      network: {
        rxBytesPerSec: net === null ? 0 : round(counterRate(prevNet?.rxBytes, net.rxBytes, seconds)),
        txBytesPerSec: net === null ? 0 : round(counterRate(prevNet?.txBytes, net.txBytes, seconds)),
      },
      uptimeSec: host.uptimeSec,
      llamaProcess: this.processFigures(ts, processes),
      gpus: this.parts.gpus.snapshot(),
      models: models.map((m) => m.sample),
    };
    return { sample, models };
  }

  /** CPU (percent of one core, like `top`: 250 = two and a half cores) and RSS of the tree. */
  private processFigures(ts: number, readings: ProcessReading[]): MetricsSample['llamaProcess'] {
    const prev = this.previousProcesses;
    this.previousProcesses = { ts, byPid: byPid(readings) };
    if (readings.length === 0) {
      return null;
    }
    let ticks = 0;
    let memoryBytes = 0;
    for (const r of readings) {
      const before = prev?.byPid.get(r.pid);
      // A process seen for the first time started within the interval: all its time is new.
      ticks += before !== undefined && before.startTicks === r.startTicks ? Math.max(0, r.cpuTicks - before.cpuTicks) : r.cpuTicks;
      memoryBytes += r.rssBytes;
    }
    const seconds = prev === null ? 0 : (ts - prev.ts) / 1000;
    return {
      cpuPct: seconds > 0 ? round((ticks / CLOCK_TICKS_PER_SEC / seconds) * 100) : 0,
      memoryBytes,
      processCount: readings.length,
    };
  }
}

function byPid(readings: ProcessReading[]): Map<number, ProcessReading> {
  return new Map(readings.map((r) => [r.pid, r]));
}

/** Two decimals: enough for a dashboard, and a shorter JSON. */
function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 100) / 100 : 0;
}
