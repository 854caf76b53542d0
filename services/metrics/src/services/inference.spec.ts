import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { SlotReading } from '../repositories/llama-client.js';
import { kvUsageFromSlots, modelSample } from './inference.js';
import { parsePrometheusText } from './prometheus-text.js';

// A real llama-server's /metrics and /slots after one completion (27 prompt tokens, 8 generated).
const METRICS = parsePrometheusText(readFileSync(new URL('./__fixtures__/llama-metrics.txt', import.meta.url), 'utf8'));
const SLOTS = JSON.parse(readFileSync(new URL('./__fixtures__/llama-slots.json', import.meta.url), 'utf8')) as SlotReading[];

function metrics(values: Record<string, number>): ReturnType<typeof parsePrometheusText> {
  return new Map(Object.entries(values).map(([name, value]) => [name, { value, type: 'counter' as const, help: '' }]));
}

describe(modelSample.name, () => {
  const sut = modelSample;

  it("takes totals and gauges from llama-server's counters, busy slots and KV use from /slots", () => {
    const sample = sut('tiny', 10_000, METRICS, SLOTS, undefined);

    expect(sample).toEqual({
      modelId: 'tiny',
      promptTokensPerSec: 0,
      genTokensPerSec: 0,
      promptTokensTotal: 27,
      genTokensTotal: 8,
      requestsProcessing: 0,
      requestsDeferred: 0,
      busySlots: 1,
      totalSlots: 2,
      kvCacheUsage: 34 / 1024,
    });
  });

  it('derives live rates from the counters’ change since the previous sample, not the lifetime averages', () => {
    const now = metrics({ 'llamacpp:prompt_tokens_total': 1027, 'llamacpp:tokens_predicted_total': 408, 'llamacpp:predicted_tokens_seconds': 6081.67 });

    const sample = sut('tiny', 12_000, now, SLOTS, { ts: 10_000, prompt: 27, gen: 8 });

    expect(sample.promptTokensPerSec).toBe(500);
    expect(sample.genTokensPerSec).toBe(200);
  });

  it('counts from zero when the instance restarted and its counters went back', () => {
    const sample = sut('tiny', 11_000, metrics({ 'llamacpp:prompt_tokens_total': 10, 'llamacpp:tokens_predicted_total': 4 }), null, { ts: 10_000, prompt: 900, gen: 300 });

    expect(sample).toMatchObject({ promptTokensPerSec: 10, genTokensPerSec: 4 });
  });

  it('prefers llama-server’s own KV-cache ratio where it reports one, and falls back to requests when /slots is off', () => {
    const sample = sut('tiny', 1, metrics({ 'llamacpp:kv_cache_usage_ratio': 0.25, 'llamacpp:requests_processing': 3 }), null, undefined);

    expect(sample).toMatchObject({ kvCacheUsage: 0.25, busySlots: 3, totalSlots: 0 });
  });
});

describe(kvUsageFromSlots.name, () => {
  it('is the tokens held in the slots over their context sizes, null without slots', () => {
    expect(kvUsageFromSlots(SLOTS)).toBe(34 / 1024);
    expect(kvUsageFromSlots([])).toBeNull();
  });
});
