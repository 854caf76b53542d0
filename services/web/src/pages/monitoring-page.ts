import { sampleSeries, type MetricsSample } from '@llamaproxy/shared';
import { TimeChart } from '../components/time-chart.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h, setText } from '../core/dom.js';
import { errorMessage } from '../core/transport.js';
import { alignSeries, appendRow } from '../lib/align.js';
import { LIVE_RANGE_MS, RANGES, planCharts, planKey, type PlannedChart, type RangeId } from './monitoring-plan.js';

const REFRESH_MS = 60_000;

/**
 * Time-series charts (uPlot) from the stored tiers: the gateway answers each range from raw,
 * per-minute or per-hour points. Short ranges also follow live samples.
 */
export class MonitoringPage extends Component<AppContext> {
  private range: RangeId = '1h';
  private charts: { plan: PlannedChart; chart: TimeChart }[] = [];
  private plannedKey = '';
  private loadToken = 0;

  protected override render(): HTMLElement {
    return h(
      'div',
      { class: 'page', 'data-page': 'monitoring' },
      h(
        'div',
        { class: 'toolbar card' },
        h(
          'div',
          { class: 'segmented', role: 'group', 'aria-label': 'Time range' },
          RANGES.map((r) => h('button', { type: 'button', 'data-range': r.id, 'aria-pressed': String(r.id === this.range) }, r.label)),
        ),
        h('span', { class: 'muted resolution', 'aria-live': 'polite' }),
        h('button', { class: 'button', 'data-action': 'refresh' }, 'Refresh'),
      ),
      h('div', { class: 'grid charts' }),
    );
  }

  protected override events(): EventMap {
    return {
      'click [data-range]': (_e, button) => this.setRange(button.dataset.range as RangeId),
      'click [data-action="refresh"]': () => void this.load(),
    };
  }

  protected override onMount(): void {
    const { store } = this.props;
    this.replan();
    this.own(store.subscribe('metrics', (sample) => this.onSample(sample)));
    this.own(store.subscribe('models', () => this.replan()));
    this.own(store.subscribe('settings', () => this.charts.forEach((c) => c.chart.redraw())));
    const media = matchMedia('(prefers-color-scheme: dark)');
    const redraw = (): void => this.charts.forEach((c) => c.chart.redraw());
    media.addEventListener('change', redraw);
    this.own(() => media.removeEventListener('change', redraw));
    this.every(REFRESH_MS, () => {
      if (this.rangeMs() > LIVE_RANGE_MS) {
        void this.load();
      }
    });
  }

  private rangeMs(): number {
    return RANGES.find((r) => r.id === this.range)?.ms ?? LIVE_RANGE_MS;
  }

  private setRange(range: RangeId): void {
    this.range = range;
    for (const button of this.el.querySelectorAll<HTMLElement>('[data-range]')) {
      button.setAttribute('aria-pressed', String(button.dataset.range === range));
    }
    void this.load();
  }

  /** Rebuilds the charts when disks, GPUs or models appear or go. */
  private replan(): void {
    const { store } = this.props;
    const loaded = store.get('models').filter((m) => m.state.status === 'loaded').map((m) => m.id);
    const plan = planCharts(store.get('metrics'), loaded);
    const key = planKey(plan);
    if (key === this.plannedKey) {
      return;
    }
    this.plannedKey = key;
    this.charts.forEach((c) => this.drop(c.chart));
    const grid = this.el.querySelector('.charts') as HTMLElement;
    this.charts = plan.map((p) => ({ plan: p, chart: this.adopt(new TimeChart({ title: p.title, lines: p.lines }), grid) }));
    void this.load();
  }

  private async load(): Promise<void> {
    const token = ++this.loadToken;
    const to = Date.now();
    const from = to - this.rangeMs();
    const label = this.el.querySelector('.resolution') as HTMLElement;
    setText(label, 'Loading…');
    try {
      const replies = await Promise.all(
        this.charts.map(({ plan }) =>
          this.props.store.request('metrics:history', { from, to, resolution: 'auto', series: plan.lines.map((l) => l.series) }),
        ),
      );
      if (token !== this.loadToken || this.isDestroyed) {
        return;
      }
      replies.forEach((reply, i) => {
        const entry = this.charts[i];
        entry?.chart.setData(alignSeries(entry.plan.lines.map((l) => reply.series[l.series])));
      });
      const tier = replies[0]?.resolution ?? 'raw';
      setText(label, `${tier === 'raw' ? 'every sample' : `per ${tier}`}${this.rangeMs() <= LIVE_RANGE_MS ? ' · live' : ''}`);
    } catch (error) {
      if (token === this.loadToken) {
        setText(label, '');
        this.props.toasts.error(`Metrics history: ${errorMessage(error)}`);
      }
    }
  }

  private onSample(sample: MetricsSample | null): void {
    this.replan();
    if (sample === null || this.rangeMs() > LIVE_RANGE_MS) {
      return;
    }
    const values = sampleSeries(sample);
    const from = Date.now() - this.rangeMs();
    for (const { plan, chart } of this.charts) {
      chart.setData(appendRow(chart.data, sample.ts, plan.lines.map((l) => values[l.series] ?? null), from));
    }
  }
}
