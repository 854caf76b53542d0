import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { delimiter, join } from 'node:path';
import { Redis } from 'ioredis';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MetricsEventSchema, RedisKeys, type MetricsSample, type ModelInferenceSample } from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { freePort, startLlamaRouter, StreamRecorder, startService, waitFor, waitForModelStatus, type LlamaRouter, type ManagedProcess } from '@llamaproxy/tests/harness';
import { STANDIN_GPUS, writeNvidiaSmiStandin, type Standin } from './nvidia-smi-standin.js';

const MIB = 1024 * 1024;
const MODEL = 'tiny-llama-a';

/** llama-server's own counters for a model, read straight from its /metrics. */
async function llamaCounters(url: string): Promise<{ prompt: number; gen: number }> {
  const text = await (await fetch(`${url}/metrics?model=${MODEL}&autoload=false`)).text();
  const value = (name: string): number => Number(new RegExp(`^llamacpp:${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { prompt: value('prompt_tokens_total'), gen: value('tokens_predicted_total') };
}

/**
 * The collector as its container runs it: a real Redis, a real llama-server router with a tiny
 * model loaded, a stand-in nvidia-smi on PATH; observed only through the Redis stream and its
 * Prometheus endpoint, steered only through the settings channel.
 */
describe('metrics collector', () => {
  const redisUrl = inject('redisUrl');
  const nodeId = `metrics-${process.pid}-${Date.now()}`;
  let dir: string;
  let router: LlamaRouter;
  let standin: Standin;
  let collector: ManagedProcess;
  let stream: StreamRecorder;
  let port: number;

  const samples = (): MetricsSample[] =>
    stream.entries.map((e) => MetricsEventSchema.parse(e).sample).filter((s) => s.nodeId === nodeId);
  const waitForSample = <T>(pick: (s: MetricsSample) => T | undefined | false, what: string): Promise<T> =>
    waitFor(() => samples().map(pick).find((v) => v !== undefined && v !== false) as T | undefined, { timeoutMs: 30_000, what }).catch(
      (err: unknown) => {
        throw new Error(`${(err as Error).message}\n${collector.tail()}`);
      },
    );
  const modelOf = (s: MetricsSample): ModelInferenceSample | undefined => s.models.find((m) => m.modelId === MODEL);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-metrics-'));
    const modelsDir = join(dir, 'models');
    mkdirSync(join(dir, 'data'));
    await writeDemoModels(modelsDir, { count: 1 });
    router = await startLlamaRouter({ modelsDir });
    await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model: MODEL }) });
    await waitForModelStatus(router.url, MODEL, 'loaded');
    standin = writeNvidiaSmiStandin(dir, { dieAfter: 3 });
    stream = new StreamRecorder(redisUrl, RedisKeys.metricsStream);
    port = await freePort();
    collector = startService('metrics', {
      REDIS_URL: redisUrl,
      METRICS_NODE_ID: nodeId,
      LLAMA_SERVER_URL: router.url,
      METRICS_INTERVAL_MS: '500',
      METRICS_PORT: String(port),
      METRICS_HOST: '127.0.0.1',
      MODELS_DIR: modelsDir,
      DATA_DIR: join(dir, 'data'),
      PATH: `${standin.binDir}${delimiter}${process.env.PATH ?? ''}`,
    });
    await waitForSample((s) => s.models.length > 0, 'a first sample with the model');
  });

  afterAll(async () => {
    await collector?.stop();
    await stream?.close();
    await router?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes valid samples with the host's CPU, memory, disks and uptime", async () => {
    const sample = await waitForSample((s) => (s.cpu.usagePct > 0 ? s : undefined), 'a sample with CPU use');

    expect(sample.cpu.perCorePct).toHaveLength(cpus().length);
    expect(sample.cpu.load).toHaveLength(3);
    expect(sample.memory.totalBytes).toBe(totalmem());
    expect(sample.memory.usedBytes).toBeGreaterThan(0);
    expect(sample.disks.map((d) => d.label)).toEqual(['models', 'data']);
    for (const disk of sample.disks) {
      expect(disk.totalBytes).toBeGreaterThan(disk.usedBytes);
      expect(join(dir, disk.label).startsWith(disk.mount)).toBe(true);
    }
    expect(sample.uptimeSec).toBeGreaterThan(0);
    expect(sample.network.rxBytesPerSec).toBeGreaterThanOrEqual(0);
  });

  it("reports inference rates and totals that add up to llama-server's own counters", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${router.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `hello number ${i}` }], max_tokens: 16, ignore_eos: true }),
      });
      expect(res.status).toBe(200);
    }
    const expected = await llamaCounters(router.url);
    expect(expected.gen).toBeGreaterThanOrEqual(48);

    await waitForSample((s) => {
      const m = modelOf(s);
      return m?.genTokensTotal === expected.gen && m.promptTokensTotal === expected.prompt;
    }, "a sample with llama-server's totals");

    const series = samples().flatMap((s) => {
      const m = modelOf(s);
      return m === undefined ? [] : [{ ts: s.ts, m }];
    });
    expect(series.some(({ m }) => m.genTokensPerSec > 0)).toBe(true);
    expect(series.some(({ m }) => m.promptTokensPerSec > 0)).toBe(true);
    // Rates are counter deltas over the time between samples: summed back, they give the counters' change.
    let prompt = 0;
    let gen = 0;
    for (let i = 1; i < series.length; i++) {
      const seconds = (series[i]!.ts - series[i - 1]!.ts) / 1000;
      prompt += series[i]!.m.promptTokensPerSec * seconds;
      gen += series[i]!.m.genTokensPerSec * seconds;
    }
    const first = series[0]!.m;
    const last = series.at(-1)!.m;
    expect(gen).toBeCloseTo(last.genTokensTotal - first.genTokensTotal, 6);
    expect(prompt).toBeCloseTo(last.promptTokensTotal - first.promptTokensTotal, 6);
    expect(last).toMatchObject({ requestsProcessing: 0, requestsDeferred: 0, busySlots: 0, totalSlots: 1 });
    expect(last.kvCacheUsage).toBeGreaterThan(0);
    expect(last.kvCacheUsage).toBeLessThanOrEqual(1);
  });

  it('reports the llama-server process tree: the router and the model instance', async () => {
    const proc = await waitForSample((s) => (s.llamaProcess !== null && s.llamaProcess.processCount >= 2 ? s.llamaProcess : undefined), 'llama-server processes');

    const routerRss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${router.process.pid}/status`, 'utf8'))?.[1]) * 1024;
    expect(proc.memoryBytes).toBeGreaterThan(routerRss);
    expect(proc.cpuPct).toBeGreaterThanOrEqual(0);
  });

  it("reads the GPUs from nvidia-smi's CSV, unavailable values as null, with the processes on each", async () => {
    const gpus = await waitForSample((s) => (s.gpus.length === 2 && s.gpus[0]!.processes.length > 0 ? s.gpus : undefined), 'two GPUs with processes');
    const apps = standin.invocations().filter((l) => l.startsWith('apps '));

    expect(gpus[0]).toMatchObject({
      index: 0,
      uuid: STANDIN_GPUS.h100.uuid,
      name: STANDIN_GPUS.h100.name,
      memoryUsedBytes: 1643 * MIB,
      memoryTotalBytes: 81559 * MIB,
      temperatureC: 38,
      powerDrawW: 87.09,
      powerLimitW: 700,
      fanPct: null,
      clockSmMhz: 1980,
      clockMemMhz: 2619,
    });
    expect(gpus[0]!.processes).toEqual([{ pid: Number(apps.at(-1)?.split(' ')[2]), name: '/usr/local/bin/llama-server', memoryUsedBytes: 1634 * MIB }]);
    expect(gpus[1]).toMatchObject({ index: 1, name: STANDIN_GPUS.geforce.name, utilizationPct: null, powerDrawW: null, fanPct: 30, processes: [] });
  });

  it('restarts nvidia-smi when it dies, and reports from the new one', async () => {
    // The stand-in reports 10 % on its first start and dies; 20 % comes only from a restarted one.
    await waitForSample((s) => s.gpus[0]?.utilizationPct === 20, 'utilization from the restarted nvidia-smi');

    expect(standin.invocations().filter((l) => l.startsWith('gpu ')).length).toBeGreaterThanOrEqual(2);
  });

  it('takes a new interval from the dashboard settings at run time, nvidia-smi included', async () => {
    const publisher = new Redis(redisUrl);
    try {
      await publisher.publish(RedisKeys.settingsChannel, 'not json');
      await publisher.publish(RedisKeys.settingsChannel, JSON.stringify({ metricsIntervalMs: 5 }));
      await publisher.publish(RedisKeys.settingsChannel, JSON.stringify({ theme: 'dark', metricsIntervalMs: 1000 }));

      await waitFor(() => standin.invocations().some((l) => l.startsWith('gpu 1000 ')) && standin.invocations().some((l) => l.startsWith('apps 1000 ')), {
        what: 'nvidia-smi restarted with -lms 1000',
      });
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^llamaproxy_collector_interval_seconds\{node="[^"]+"\} 1$/m);
      expect(collector.running).toBe(true);
    } finally {
      publisher.disconnect();
    }
  });

  it('serves Prometheus text that a Prometheus parser reads, with per-model labels', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');

    const families = parsePrometheusTextFormat(await res.text());
    const byName = new Map(families.map((f) => [f.name, f]));
    const expected = await llamaCounters(router.url);

    expect(byName.get('llamaproxy_model_generation_tokens_total')).toMatchObject({
      type: 'COUNTER',
      metrics: [{ value: String(expected.gen), labels: { node: nodeId, model: MODEL } }],
    });
    expect(byName.get('llamacpp:prompt_tokens_total')?.metrics[0]).toEqual({ value: String(expected.prompt), labels: { node: nodeId, model: MODEL } });
    expect(byName.get('llamaproxy_gpu_memory_total_bytes')?.metrics).toHaveLength(2);
    expect(byName.get('llamaproxy_memory_total_bytes')?.metrics[0]?.value).toBe(String(totalmem()));
    expect(Number(byName.get('llamaproxy_collector_eventloop_delay_p99_seconds')?.metrics[0]?.value)).toBeGreaterThanOrEqual(0);
    for (const family of families) {
      expect(family.type, family.name).not.toBe('UNTYPED');
    }
  });

  it('stops on SIGTERM and leaves no nvidia-smi behind', async () => {
    const pids = standin.invocations().map((l) => Number(l.split(' ')[2]));
    collector.kill('SIGTERM');
    await collector.exited;

    expect(collector.exitCode).toBe(0);
    for (const pid of pids) {
      expect(() => process.kill(pid, 0), `nvidia-smi ${pid}`).toThrow();
    }
  });
});
