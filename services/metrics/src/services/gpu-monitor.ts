import type { GpuSample } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { ChildExit, SupervisedChild } from '../repositories/supervised-child.js';
import { appQueryArgs, gpuQueryArgs, parseAppLine, parseGpuLine, type GpuAppReading, type GpuReading } from './nvidia-csv.js';

/** nvidia-smi exit codes that mean "no usable NVIDIA GPU here" rather than a fault. */
const NO_GPU_EXIT_CODES = new Set([6, 9, 12]);
/** A fault is logged at warn at most this often; repeats go to debug. */
const WARN_EVERY_MS = 10 * 60_000;

export interface GpuMonitorParts {
  /** `--query-gpu ... -lms N`: one line per GPU per interval. */
  gpus: SupervisedChild;
  /** `--query-compute-apps ... -lms N`: one line per process holding GPU memory per interval. */
  apps: SupervisedChild;
  logger: Logger;
  now?: () => number;
}

/**
 * NVIDIA GPU figures from two long-lived `nvidia-smi -lms` children (never a process per sample).
 * Keeps the latest line per GPU and the latest batch of compute processes; figures older than two
 * intervals are dropped, so a stalled or dead nvidia-smi never shows stale numbers. With no
 * nvidia-smi, or no GPU, the list is empty and one info line says why.
 */
export class GpuMonitor {
  private readonly parts: GpuMonitorParts;
  private readonly log: Logger;
  private readonly now: () => number;
  private intervalMs = 2000;
  private readonly latest = new Map<number, { reading: GpuReading; at: number }>();
  private batch: { timestamp: string; at: number; apps: GpuAppReading[] } | null = null;
  private readonly said = new Set<string>();
  private lastWarnAt = Number.NEGATIVE_INFINITY;
  private failing = false;

  constructor(parts: GpuMonitorParts) {
    this.parts = parts;
    this.log = parts.logger.child({ module: 'gpu' });
    this.now = parts.now ?? Date.now;
    parts.gpus.on('line', (line) => this.onGpuLine(line));
    parts.apps.on('line', (line) => this.onAppLine(line));
    for (const [which, child] of [['gpus', parts.gpus], ['apps', parts.apps]] as const) {
      child.on('absent', (err, delayMs) => this.once(`absent`, () => this.log.info('no GPU metrics: nvidia-smi not found', { error: err.message, retryMs: delayMs })));
      child.on('exit', (exit, delayMs) => this.onExit(which, exit, delayMs));
    }
  }

  start(intervalMs: number): void {
    this.intervalMs = intervalMs;
    this.parts.gpus.start(gpuQueryArgs(intervalMs));
    this.parts.apps.start(appQueryArgs(intervalMs));
  }

  /** New loop interval: both children are restarted with the new `-lms`. */
  async setInterval(intervalMs: number): Promise<void> {
    if (intervalMs === this.intervalMs) {
      return;
    }
    this.intervalMs = intervalMs;
    await Promise.all([this.parts.gpus.restart(gpuQueryArgs(intervalMs)), this.parts.apps.restart(appQueryArgs(intervalMs))]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.parts.gpus.stop(), this.parts.apps.stop()]);
  }

  /** The GPUs as of now, by index, each with the processes that hold memory on it. */
  snapshot(): GpuSample[] {
    const now = this.now();
    const maxAge = 2 * this.intervalMs + 1000;
    const apps = this.batch !== null && now - this.batch.at <= maxAge ? this.batch.apps : [];
    const result: GpuSample[] = [];
    for (const [index, { reading, at }] of [...this.latest].sort((a, b) => a[0] - b[0])) {
      if (now - at > maxAge) {
        this.latest.delete(index);
        continue;
      }
      result.push({
        ...reading,
        processes: apps
          .filter((app) => app.gpuUuid === reading.uuid)
          .map((app) => ({ pid: app.pid, name: app.name, memoryUsedBytes: app.memoryUsedBytes })),
      });
    }
    return result;
  }

  private onGpuLine(line: string): void {
    const reading = parseGpuLine(line);
    if (reading === null) {
      if (line.trim() !== '') {
        this.once(`gpu-line`, () => this.log.warn('unexpected nvidia-smi line', { line: line.slice(0, 200) }));
      }
      return;
    }
    if (this.failing) {
      this.failing = false;
      this.log.info('nvidia-smi reporting again');
    }
    this.once('found', () => this.log.info('GPU found', { index: reading.index, name: reading.name }));
    this.latest.set(reading.index, { reading, at: this.now() });
  }

  private onAppLine(line: string): void {
    const app = parseAppLine(line);
    if (app === null) {
      return;
    }
    const now = this.now();
    if (this.batch === null || this.batch.timestamp !== app.timestamp) {
      this.batch = { timestamp: app.timestamp, at: now, apps: [] };
    }
    this.batch.at = now;
    this.batch.apps.push(app);
  }

  private onExit(which: 'gpus' | 'apps', exit: ChildExit, delayMs: number): void {
    const meta = { query: which, code: exit.code, signal: exit.signal, stderr: exit.stderr.slice(-300), restartInMs: delayMs };
    if (!exit.hadOutput && exit.code !== null && NO_GPU_EXIT_CODES.has(exit.code)) {
      this.once('no-gpu', () => this.log.info('no GPU metrics: nvidia-smi finds no usable GPU', meta));
      this.log.debug('nvidia-smi exited', meta);
      return;
    }
    this.failing = true;
    const now = this.now();
    if (now - this.lastWarnAt >= WARN_EVERY_MS) {
      this.lastWarnAt = now;
      this.log.warn('nvidia-smi exited; restarting it', meta);
    } else {
      this.log.debug('nvidia-smi exited; restarting it', meta);
    }
  }

  private once(key: string, fn: () => void): void {
    if (!this.said.has(key)) {
      this.said.add(key);
      fn();
    }
  }
}
