import type { MetricsSample } from '@llamaproxy/shared';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { renderExposition } from './prometheus-exporter.js';
import { parsePrometheusText } from './prometheus-text.js';
import type { SelfFigures } from './self-stats.js';

const MIB = 1024 * 1024;

const SAMPLE: MetricsSample = {
  ts: 1_700_000_000_000,
  nodeId: 'node-1',
  cpu: { usagePct: 12.5, perCorePct: [10, 15], load: [0.5, 0.4, 0.3] },
  memory: { totalBytes: 16e9, usedBytes: 4e9, swapTotalBytes: 2e9, swapUsedBytes: 0 },
  disks: [{ label: 'models', mount: '/models', totalBytes: 1000, usedBytes: 400 }],
  network: { rxBytesPerSec: 1000, txBytesPerSec: 50 },
  uptimeSec: 3600,
  llamaProcess: { cpuPct: 150, memoryBytes: 2e9, processCount: 2 },
  gpus: [
    {
      index: 0,
      uuid: 'GPU-0',
      name: 'NVIDIA H100 80GB HBM3',
      utilizationPct: 80,
      memoryUsedBytes: 1643 * MIB,
      memoryTotalBytes: 81559 * MIB,
      temperatureC: 38,
      powerDrawW: 87.09,
      powerLimitW: 700,
      fanPct: null,
      clockSmMhz: 1980,
      clockMemMhz: 2619,
      processes: [{ pid: 528, name: 'llama-server', memoryUsedBytes: 1634 * MIB }],
    },
  ],
  models: [
    {
      modelId: 'qwen "2.5" 7B',
      promptTokensPerSec: 500,
      genTokensPerSec: 42.5,
      promptTokensTotal: 1027,
      genTokensTotal: 408,
      requestsProcessing: 1,
      requestsDeferred: 0,
      busySlots: 1,
      totalSlots: 4,
      kvCacheUsage: 0.125,
    },
  ],
};

const SELF: SelfFigures = {
  samples: 7,
  skipped: 0,
  publishErrors: 1,
  lastDurationMs: 1.5,
  intervalMs: 2000,
  cpuSeconds: 0.25,
  eventLoop: { p50: 0.1, p90: 0.2, p99: 0.7, max: 1, mean: 0.15, count: 100 },
};

function family(parsed: ParsedFamily[], name: string): ParsedFamily {
  const found = parsed.find((f) => f.name === name);
  if (found === undefined) {
    throw new Error(`no family ${name}`);
  }
  return found;
}

describe(renderExposition.name, () => {
  const sut = renderExposition;
  const models = [{ sample: SAMPLE.models[0]!, families: new Map([['llamacpp:n_decode_total', { value: 8, type: 'counter' as const, help: 'decode calls' }]]) }];

  it('parses with a Prometheus text parser; every family is typed and every value a number', async () => {
    const parsed = parsePrometheusTextFormat(await sut({ nodeId: 'node-1', sample: SAMPLE, models, self: SELF }));

    expect(parsed.length).toBeGreaterThan(30);
    for (const f of parsed) {
      expect(f.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
      expect(f.type).not.toBe('UNTYPED');
      expect(f.help.length).toBeGreaterThan(0);
      for (const m of f.metrics) {
        for (const v of [m.value, ...Object.values(m.quantiles ?? {})].filter((x) => x !== undefined)) {
          expect(Number.isNaN(Number(v)), `${f.name} = ${v}`).toBe(false);
        }
      }
    }
  });

  it('labels per-model series with the model and passes llama-server’s own figures through', async () => {
    const parsed = parsePrometheusTextFormat(await sut({ nodeId: 'node-1', sample: SAMPLE, models, self: SELF }));

    expect(family(parsed, 'llamaproxy_model_generation_tokens_per_second').metrics).toEqual([{ value: '42.5', labels: { node: 'node-1', model: 'qwen "2.5" 7B' } }]);
    expect(family(parsed, 'llamaproxy_model_generation_tokens_total')).toMatchObject({ type: 'COUNTER', metrics: [{ value: '408' }] });
    expect(family(parsed, 'llamaproxy_model_kv_cache_usage_ratio').metrics[0]?.value).toBe('0.125');
    expect(family(parsed, 'llamacpp:n_decode_total')).toMatchObject({ type: 'COUNTER', help: 'decode calls', metrics: [{ value: '8', labels: { node: 'node-1', model: 'qwen "2.5" 7B' } }] });
  });

  it('writes GPUs in base units, and leaves out a figure the GPU does not have', async () => {
    const text = await sut({ nodeId: 'node-1', sample: SAMPLE, models, self: SELF });
    const parsed = parsePrometheusTextFormat(text);

    expect(family(parsed, 'llamaproxy_gpu_memory_total_bytes').metrics[0]).toEqual({
      value: String(81559 * MIB),
      labels: { node: 'node-1', gpu: '0', uuid: 'GPU-0', name: 'NVIDIA H100 80GB HBM3' },
    });
    expect(family(parsed, 'llamaproxy_gpu_sm_clock_hertz').metrics[0]?.value).toBe('1980000000');
    expect(family(parsed, 'llamaproxy_gpu_process_memory_used_bytes').metrics[0]?.labels).toMatchObject({ pid: '528', process: 'llama-server' });
    expect(text).not.toContain('llamaproxy_gpu_fan_speed_percent');
  });

  it('reports the collector’s own cost, with the event-loop delay as a summary in seconds', async () => {
    const parsed = parsePrometheusTextFormat(await sut({ nodeId: 'node-1', sample: SAMPLE, models, self: SELF }));
    const values = parsePrometheusText((await sut({ nodeId: 'n', sample: null, models: [], self: SELF })).replace(/\{[^}]*\}/g, ''));

    expect(family(parsed, 'llamaproxy_collector_eventloop_delay_seconds').metrics[0]?.quantiles).toMatchObject({ '0.99': '0.0007' });
    expect(values.get('llamaproxy_collector_eventloop_delay_p99_seconds')?.value).toBe(0.0007);
    expect(values.get('llamaproxy_collector_interval_seconds')?.value).toBe(2);
    expect(values.get('llamaproxy_collector_publish_errors_total')).toMatchObject({ value: 1, type: 'counter' });
  });

  it('before the first sample serves only the collector’s own figures', async () => {
    const parsed = parsePrometheusTextFormat(await sut({ nodeId: 'n', sample: null, models: [], self: { ...SELF, eventLoop: null } }));

    expect(parsed.every((f) => f.name.startsWith('llamaproxy_collector_'))).toBe(true);
  });
});
