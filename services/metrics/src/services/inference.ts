import type { ModelInferenceSample } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { LlamaClient, SlotReading } from '../repositories/llama-client.js';
import { counterRate } from './proc-parsers.js';
import { parsePrometheusText, type ParsedFamily } from './prometheus-text.js';

/** llama-server's metric names that the samples are made of (`--metrics`, per model in router mode). */
export const LlamaMetric = {
  promptTokensTotal: 'llamacpp:prompt_tokens_total',
  genTokensTotal: 'llamacpp:tokens_predicted_total',
  requestsProcessing: 'llamacpp:requests_processing',
  requestsDeferred: 'llamacpp:requests_deferred',
  /** Only in some llama-server versions; otherwise KV use is derived from /slots. */
  kvCacheUsageRatio: 'llamacpp:kv_cache_usage_ratio',
} as const;

export interface ModelReading {
  sample: ModelInferenceSample;
  /** Every unlabelled figure of the model's /metrics, for the Prometheus pass-through. */
  families: Map<string, ParsedFamily>;
}

interface Previous {
  ts: number;
  prompt: number;
  gen: number;
}

/** KV-cache use from /slots: tokens held in the slots' caches over their context sizes. */
export function kvUsageFromSlots(slots: SlotReading[]): number | null {
  let used = 0;
  let size = 0;
  for (const slot of slots) {
    used += slot.n_prompt_tokens ?? 0;
    size += slot.n_ctx;
  }
  return size > 0 ? Math.min(1, used / size) : null;
}

/** Builds one model's figures; rates come from the counters' change since `previous`. */
export function modelSample(
  modelId: string,
  ts: number,
  families: Map<string, ParsedFamily>,
  slots: SlotReading[] | null,
  previous: Previous | undefined,
): ModelInferenceSample {
  const value = (name: string): number => {
    const v = families.get(name)?.value;
    return v !== undefined && Number.isFinite(v) ? v : 0;
  };
  const prompt = value(LlamaMetric.promptTokensTotal);
  const gen = value(LlamaMetric.genTokensTotal);
  const seconds = previous === undefined ? 0 : (ts - previous.ts) / 1000;
  const kvRatio = families.get(LlamaMetric.kvCacheUsageRatio)?.value;
  const processing = value(LlamaMetric.requestsProcessing);
  return {
    modelId,
    promptTokensPerSec: counterRate(previous?.prompt, prompt, seconds),
    genTokensPerSec: counterRate(previous?.gen, gen, seconds),
    promptTokensTotal: prompt,
    genTokensTotal: gen,
    requestsProcessing: processing,
    requestsDeferred: value(LlamaMetric.requestsDeferred),
    busySlots: slots === null ? processing : slots.filter((s) => s.is_processing).length,
    totalSlots: slots?.length ?? 0,
    kvCacheUsage: kvRatio !== undefined && Number.isFinite(kvRatio) ? kvRatio : slots === null ? null : kvUsageFromSlots(slots),
  };
}

/**
 * Per loaded model: llama-server's counters and gauges, with prompt and generation rates derived
 * from the counters' change over the last interval (llama-server's own `*_tokens_seconds` gauges
 * are lifetime averages, not live rates).
 */
export class InferenceSampler {
  private readonly client: LlamaClient;
  private readonly log: Logger;
  private readonly previous = new Map<string, Previous>();
  private reachable: boolean | null = null;
  private readonly failingModels = new Set<string>();

  constructor(client: LlamaClient, logger: Logger) {
    this.client = client;
    this.log = logger.child({ module: 'inference' });
  }

  /** `ts` is the sample's time: rates use it, so they integrate exactly to the counters' change. */
  async sample(ts: number): Promise<ModelReading[]> {
    let ids: string[];
    try {
      ids = await this.client.loadedModels();
      if (this.reachable !== true) {
        this.log.info('reading llama-server', { models: ids.length });
      }
      this.reachable = true;
    } catch (err) {
      if (this.reachable !== false) {
        this.log.warn('llama-server unreachable; no inference figures until it answers', { error: describeError(err) });
      }
      this.reachable = false;
      this.previous.clear();
      return [];
    }
    const readings = await Promise.all(ids.map((id) => this.sampleModel(id, ts)));
    const result = readings.filter((r): r is ModelReading => r !== null);
    // A model that was unloaded starts afresh when it comes back (its counters restart at 0).
    // One whose figures failed this once keeps its baseline: its next rate spans both intervals.
    const present = new Set(ids);
    for (const id of this.previous.keys()) {
      if (!present.has(id)) {
        this.previous.delete(id);
      }
    }
    return result;
  }

  private async sampleModel(id: string, ts: number): Promise<ModelReading | null> {
    const [metrics, slots] = await Promise.allSettled([this.client.metricsText(id), this.client.slots(id)]);
    if (metrics.status === 'rejected') {
      // Unloaded between /models and /metrics, or llama-server runs without --metrics.
      if (!this.failingModels.has(id)) {
        this.failingModels.add(id);
        this.log.debug('no /metrics for model', { model: id, error: describeError(metrics.reason) });
      }
      return null;
    }
    this.failingModels.delete(id);
    const families = parsePrometheusText(metrics.value);
    const sample = modelSample(id, ts, families, slots.status === 'fulfilled' ? slots.value : null, this.previous.get(id));
    this.previous.set(id, { ts, prompt: sample.promptTokensTotal, gen: sample.genTokensTotal });
    return { sample, families };
  }
}

/** An expected network failure in one line: "fetch failed: connect ECONNREFUSED 127.0.0.1:8080". */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) {
    return String(err);
  }
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
