import type { MetricsSample } from '@llamaproxy/shared';
import type { ModelReading } from './inference.js';
import { PrometheusWriter } from './prometheus-writer.js';
import type { SelfFigures } from './self-stats.js';

export interface ExpositionInput {
  nodeId: string;
  /** The latest sample; null before the first one. */
  sample: MetricsSample | null;
  models: ModelReading[];
  self: SelfFigures;
}

/**
 * The collector's `GET /metrics`: the latest sample as Prometheus gauges and counters (base units:
 * bytes, seconds, hertz), every series labelled with `node`, per-model series with `model`, plus
 * llama-server's own `llamacpp:*` figures passed through per model, and the collector's own cost.
 * Written with prom-client (prometheus-writer.ts).
 */
export async function renderExposition(input: ExpositionInput): Promise<string> {
  const w = new PrometheusWriter();
  const node = input.nodeId;
  const s = input.sample;

  if (s !== null) {
    w.family('llamaproxy_cpu_usage_percent', 'gauge', 'Host CPU busy over the last interval, percent of all cores')(s.cpu.usagePct, { node });
    const core = w.family('llamaproxy_cpu_core_usage_percent', 'gauge', 'Host CPU busy per core over the last interval, percent');
    s.cpu.perCorePct.forEach((pct, i) => core(pct, { node, core: i }));
    const load = w.family('llamaproxy_load_average', 'gauge', 'Host load average');
    ['1m', '5m', '15m'].forEach((period, i) => load(s.cpu.load[i] ?? null, { node, period }));
    w.family('llamaproxy_memory_total_bytes', 'gauge', 'Host memory')(s.memory.totalBytes, { node });
    w.family('llamaproxy_memory_used_bytes', 'gauge', 'Host memory in use (total minus available)')(s.memory.usedBytes, { node });
    w.family('llamaproxy_swap_total_bytes', 'gauge', 'Host swap')(s.memory.swapTotalBytes, { node });
    w.family('llamaproxy_swap_used_bytes', 'gauge', 'Host swap in use')(s.memory.swapUsedBytes, { node });
    const diskTotal = w.family('llamaproxy_disk_total_bytes', 'gauge', 'Size of the filesystem holding the directory (used plus available)');
    const diskUsed = w.family('llamaproxy_disk_used_bytes', 'gauge', 'Space used on the filesystem holding the directory');
    const diskFree = w.family('llamaproxy_disk_free_bytes', 'gauge', 'Space available on the filesystem holding the directory');
    for (const d of s.disks) {
      const labels = { node, disk: d.label, mount: d.mount };
      diskTotal(d.totalBytes, labels);
      diskUsed(d.usedBytes, labels);
      diskFree(d.totalBytes - d.usedBytes, labels);
    }
    w.family('llamaproxy_network_receive_bytes_per_second', 'gauge', 'Host network received over the last interval')(s.network.rxBytesPerSec, { node });
    w.family('llamaproxy_network_transmit_bytes_per_second', 'gauge', 'Host network sent over the last interval')(s.network.txBytesPerSec, { node });
    w.family('llamaproxy_uptime_seconds', 'gauge', 'Host uptime')(s.uptimeSec, { node });
    const p = s.llamaProcess;
    w.family('llamaproxy_llama_processes', 'gauge', 'llama-server processes (router and model instances)')(p?.processCount ?? 0, { node });
    w.family('llamaproxy_llama_process_cpu_percent', 'gauge', 'CPU of the llama-server processes over the last interval, percent of one core')(p?.cpuPct ?? null, { node });
    w.family('llamaproxy_llama_process_memory_bytes', 'gauge', 'Resident memory of the llama-server processes')(p?.memoryBytes ?? null, { node });

    const gpuFamilies = {
      util: w.family('llamaproxy_gpu_utilization_percent', 'gauge', 'GPU utilization'),
      memUsed: w.family('llamaproxy_gpu_memory_used_bytes', 'gauge', 'GPU memory in use'),
      memTotal: w.family('llamaproxy_gpu_memory_total_bytes', 'gauge', 'GPU memory'),
      temp: w.family('llamaproxy_gpu_temperature_celsius', 'gauge', 'GPU temperature'),
      power: w.family('llamaproxy_gpu_power_draw_watts', 'gauge', 'GPU power draw'),
      powerLimit: w.family('llamaproxy_gpu_power_limit_watts', 'gauge', 'GPU power limit'),
      fan: w.family('llamaproxy_gpu_fan_speed_percent', 'gauge', 'GPU fan speed'),
      sm: w.family('llamaproxy_gpu_sm_clock_hertz', 'gauge', 'GPU SM clock'),
      mem: w.family('llamaproxy_gpu_memory_clock_hertz', 'gauge', 'GPU memory clock'),
      proc: w.family('llamaproxy_gpu_process_memory_used_bytes', 'gauge', 'GPU memory held by a process'),
    };
    const mhz = (v: number | null): number | null => (v === null ? null : v * 1e6);
    for (const g of s.gpus) {
      const labels = { node, gpu: g.index, uuid: g.uuid ?? '', name: g.name };
      gpuFamilies.util(g.utilizationPct, labels);
      gpuFamilies.memUsed(g.memoryUsedBytes, labels);
      gpuFamilies.memTotal(g.memoryTotalBytes, labels);
      gpuFamilies.temp(g.temperatureC, labels);
      gpuFamilies.power(g.powerDrawW, labels);
      gpuFamilies.powerLimit(g.powerLimitW, labels);
      gpuFamilies.fan(g.fanPct, labels);
      gpuFamilies.sm(mhz(g.clockSmMhz), labels);
      gpuFamilies.mem(mhz(g.clockMemMhz), labels);
      for (const proc of g.processes) {
        gpuFamilies.proc(proc.memoryUsedBytes, { node, gpu: g.index, uuid: g.uuid ?? '', pid: proc.pid, process: proc.name });
      }
    }

    const m = {
      promptRate: w.family('llamaproxy_model_prompt_tokens_per_second', 'gauge', 'Prompt tokens processed per second over the last interval'),
      genRate: w.family('llamaproxy_model_generation_tokens_per_second', 'gauge', 'Tokens generated per second over the last interval'),
      promptTotal: w.family('llamaproxy_model_prompt_tokens_total', 'counter', 'Prompt tokens processed by the model instance (llamacpp:prompt_tokens_total)'),
      genTotal: w.family('llamaproxy_model_generation_tokens_total', 'counter', 'Tokens generated by the model instance (llamacpp:tokens_predicted_total)'),
      processing: w.family('llamaproxy_model_requests_processing', 'gauge', 'Requests being processed'),
      deferred: w.family('llamaproxy_model_requests_deferred', 'gauge', 'Requests waiting for a free slot'),
      busy: w.family('llamaproxy_model_busy_slots', 'gauge', 'Slots processing a request'),
      slots: w.family('llamaproxy_model_slots', 'gauge', 'Slots of the model instance'),
      kv: w.family('llamaproxy_model_kv_cache_usage_ratio', 'gauge', 'Share of the KV cache in use'),
    };
    for (const x of s.models) {
      const labels = { node, model: x.modelId };
      m.promptRate(x.promptTokensPerSec, labels);
      m.genRate(x.genTokensPerSec, labels);
      m.promptTotal(x.promptTokensTotal, labels);
      m.genTotal(x.genTokensTotal, labels);
      m.processing(x.requestsProcessing, labels);
      m.deferred(x.requestsDeferred, labels);
      m.busy(x.busySlots, labels);
      m.slots(x.totalSlots, labels);
      m.kv(x.kvCacheUsage, labels);
    }
    for (const reading of input.models) {
      for (const [name, family] of reading.families) {
        if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
          w.family(name, family.type, family.help)(family.value, { node, model: reading.sample.modelId });
        }
      }
    }
  }

  const self = input.self;
  w.family('llamaproxy_collector_samples_total', 'counter', 'Samples taken')(self.samples, { node });
  w.family('llamaproxy_collector_skipped_ticks_total', 'counter', 'Ticks skipped because the previous sample was still being taken')(self.skipped, { node });
  w.family('llamaproxy_collector_publish_errors_total', 'counter', 'Samples that could not be sent to Redis')(self.publishErrors, { node });
  w.family('llamaproxy_collector_interval_seconds', 'gauge', 'Sampling interval')(self.intervalMs / 1000, { node });
  w.family('llamaproxy_collector_sample_duration_seconds', 'gauge', 'Time the last sample took')(self.lastDurationMs === null ? null : self.lastDurationMs / 1000, { node });
  w.family('llamaproxy_collector_last_sample_timestamp_seconds', 'gauge', 'Time of the latest sample')(s === null ? null : s.ts / 1000, { node });
  w.family('llamaproxy_collector_cpu_seconds_total', 'counter', 'CPU time of the collector process (user and system)')(self.cpuSeconds, { node });
  const el = self.eventLoop;
  if (el !== null) {
    const summary = w.family('llamaproxy_collector_eventloop_delay_seconds', 'summary', 'Event-loop delay of the collector since it started');
    for (const [q, v] of [['0.5', el.p50], ['0.9', el.p90], ['0.99', el.p99], ['1', el.max]] as const) {
      summary(v / 1000, { node, quantile: q });
    }
    summary((el.mean * el.count) / 1000, { node }, '_sum');
    summary(el.count, { node }, '_count');
    w.family('llamaproxy_collector_eventloop_delay_p99_seconds', 'gauge', 'p99 event-loop delay of the collector since it started')(el.p99 / 1000, { node });
  }
  return w.render();
}
