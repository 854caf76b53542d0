import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { MetricsEventSchema, RedisKeys, type MetricsSample } from '@llamaproxy/shared';
import { freePort, StreamRecorder, startService, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';
import { writeNvidiaSmiStandin } from './nvidia-smi-standin.js';

interface LogLine {
  level: string;
  message: string;
  module?: string;
}

/**
 * Machines without an NVIDIA GPU, and a llama-server that is not there: the collector keeps
 * sampling the host, reports no GPUs and no models, says so once, and does not fill the log.
 */
describe('metrics collector without a GPU', () => {
  const redisUrl = inject('redisUrl');
  let dir: string;
  let stream: StreamRecorder;
  let collector: ManagedProcess | null = null;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-metrics-nogpu-'));
    mkdirSync(join(dir, 'models'));
    stream = new StreamRecorder(redisUrl, RedisKeys.metricsStream);
  });
  afterEach(async () => {
    await collector?.stop();
    collector = null;
  });
  afterAll(async () => {
    await stream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(nodeId: string, env: Record<string, string>): Promise<{ samples: MetricsSample[]; logs: LogLine[] }> {
    collector = startService('metrics', {
      REDIS_URL: redisUrl,
      METRICS_NODE_ID: nodeId,
      // Nothing listens there.
      LLAMA_SERVER_URL: `http://127.0.0.1:${await freePort()}`,
      METRICS_INTERVAL_MS: '250',
      METRICS_PORT: '0',
      MODELS_DIR: join(dir, 'models'),
      DATA_DIR: join(dir, 'missing-data-dir'),
      ...env,
    });
    const proc = collector;
    const ours = (): MetricsSample[] => stream.entries.map((e) => MetricsEventSchema.parse(e).sample).filter((s) => s.nodeId === nodeId);
    // Enough samples for any per-sample complaint to have shown up many times.
    await waitFor(() => ours().length >= 8, { timeoutMs: 30_000, what: 'eight samples' }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${proc.tail()}`);
    });
    const logs = proc.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
    return { samples: ours(), logs };
  }

  it('reports an empty GPU list when there is no nvidia-smi, with one info line', async () => {
    const { samples, logs } = await run(`nogpu-${process.pid}-a`, { NVIDIA_SMI_BIN: join(dir, 'no-such-dir', 'nvidia-smi') });

    expect(samples.every((s) => s.gpus.length === 0 && s.models.length === 0)).toBe(true);
    expect(samples.at(-1)?.disks.map((d) => d.label)).toEqual(['models']);
    expect(logs.filter((l) => l.module === 'gpu')).toEqual([expect.objectContaining({ level: 'info', message: 'no GPU metrics: nvidia-smi not found' })]);
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
    // llama-server being away is said once, not once per sample.
    expect(logs.filter((l) => l.module === 'inference')).toHaveLength(1);
  });

  it('reports an empty GPU list when nvidia-smi finds no driver, without warnings', async () => {
    const standin = writeNvidiaSmiStandin(join(dir, 'nodriver'), {
      exitCode: 9,
      stderr: "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
    });

    const { samples, logs } = await run(`nogpu-${process.pid}-b`, { PATH: `${standin.binDir}${delimiter}${process.env.PATH ?? ''}` });

    expect(samples.every((s) => s.gpus.length === 0)).toBe(true);
    const gpuLogs = logs.filter((l) => l.module === 'gpu');
    expect(gpuLogs).toEqual([expect.objectContaining({ level: 'info', message: 'no GPU metrics: nvidia-smi finds no usable GPU' })]);
    expect(logs.filter((l) => l.level === 'warn' && l.module !== 'inference')).toEqual([]);
  });

  it('starts with the interval the dashboard saved before it started', async () => {
    const { Redis } = await import('ioredis');
    const redis = new Redis(redisUrl);
    try {
      await redis.set(RedisKeys.settingsKey, JSON.stringify({ metricsIntervalMs: 1000 }));
      const port = await freePort();
      collector = startService('metrics', {
        REDIS_URL: redisUrl,
        METRICS_NODE_ID: `nogpu-${process.pid}-settings`,
        LLAMA_SERVER_URL: `http://127.0.0.1:${await freePort()}`,
        METRICS_INTERVAL_MS: '250',
        METRICS_PORT: String(port),
        METRICS_HOST: '127.0.0.1',
        MODELS_DIR: join(dir, 'models'),
        DATA_DIR: dir,
        NVIDIA_SMI_BIN: join(dir, 'no-such-dir', 'nvidia-smi'),
      });
      await waitFor(async () => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
        return /^llamaproxy_collector_interval_seconds\{node="[^"]+"\} 1$/m.test(text);
      }, { timeoutMs: 20_000, what: 'interval of 1 s taken from the saved settings' });
    } finally {
      await redis.del(RedisKeys.settingsKey);
      redis.disconnect();
    }
  });
});
