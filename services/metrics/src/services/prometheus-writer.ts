import { Counter, Gauge, Registry, type Metric, type MetricValueWithName } from 'prom-client';

/** The exposition's metric types: what prom-client writes, plus `untyped` for passed-through families. */
export type MetricType = 'gauge' | 'counter' | 'summary' | 'untyped';
export type Labels = Record<string, string | number>;
/** Adds one sample to a family; `suffix` names a summary's `_sum` / `_count` line. A null value is left out. */
export type FamilySetter = (value: number | null, labels?: Labels, suffix?: '' | '_sum' | '_count') => void;

/**
 * Builds one scrape's exposition with prom-client (a fresh Registry per scrape, so the values are
 * exactly the latest sample's). Each family is registered when its first sample arrives, so
 * families left empty (a figure this host lacks) and null samples are left out, as Prometheus
 * expects for "unknown". Gauges are prom-client Gauges, counters prom-client Counters (a fresh
 * counter increased once by the absolute value); a summary whose quantiles were computed
 * elsewhere (the event-loop delay histogram) and a family whose type llama-server left out
 * (`untyped`) are registered as plain metric objects, which prom-client's registry writes the
 * same way as its own.
 */
export class PrometheusWriter {
  private readonly registry = new Registry();
  private readonly families = new Map<string, FamilySetter>();

  /** The setter of family `name` (the same one when asked twice; the first call's type and help hold). */
  family(name: string, type: MetricType, help: string): FamilySetter {
    const known = this.families.get(name);
    if (known !== undefined) {
      return known;
    }
    let add: ((value: number, labels: Labels, suffix: string) => void) | null = null;
    const setter: FamilySetter = (value, labels = {}, suffix = '') => {
      if (value === null) {
        return;
      }
      add ??= this.create(name, type, help, Object.keys(labels));
      add(value, labels, suffix);
    };
    this.families.set(name, setter);
    return setter;
  }

  /** The exposition (text format 0.0.4), families in the order their first sample arrived. */
  async render(): Promise<string> {
    const text = await this.registry.metrics();
    return text.trim() === '' ? '' : text;
  }

  private create(name: string, type: MetricType, help: string, labelNames: string[]): (value: number, labels: Labels, suffix: string) => void {
    const registers = [this.registry];
    switch (type) {
      case 'gauge': {
        const gauge = new Gauge({ name, help, labelNames, registers });
        return (value, labels) => gauge.set(labels, value);
      }
      case 'counter': {
        const counter = new Counter({ name, help, labelNames, registers });
        // A counter only goes up from 0: a non-finite or negative reading is no count at all.
        return (value, labels) => {
          if (Number.isFinite(value) && value >= 0) {
            counter.inc(labels, value);
          }
        };
      }
      case 'summary':
      case 'untyped': {
        const values: MetricValueWithName<string>[] = [];
        const metric = {
          name,
          help,
          type,
          aggregator: 'sum',
          get: async () => ({ name, help, type, aggregator: 'sum', values }),
        };
        // The registry needs only `name` and `get()` of a metric; prom-client's Metric type also
        // lists methods (reset, ...) that its registry never calls on a registered metric.
        this.registry.registerMetric(metric as unknown as Metric);
        return (value, labels, suffix) => void values.push({ value, labels, metricName: `${name}${suffix}` });
      }
    }
  }
}
