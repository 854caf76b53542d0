import type { MetricsPoint, MetricsSample } from '@llamaproxy/shared';
import { AlertRow } from '../components/alert-row.js';
import { LlamaCard } from '../components/llama-card.js';
import { LoadedModelRow } from '../components/loaded-model-row.js';
import { mountMemoryBars } from '../components/memory-bar.js';
import { StatCard } from '../components/stat-card.js';
import { Component } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h } from '../core/dom.js';
import { KeyedList } from '../core/keyed-list.js';
import { formatBytes, formatPct, formatRate, formatTemp } from '../lib/format.js';
import { DashboardSeries, combineSeries, mean, sum, type TimePoint } from '../lib/metric-series.js';
import { genTokensPerSec, gpuPct, memoryPct, promptTokensPerSec } from '../lib/metric-values.js';
import { nodeOf } from '../lib/node-status.js';
import { collectAlerts } from './dashboard-alerts.js';

const SPARK_POINTS = 60;
const HISTORY_MS = 10 * 60_000;

type StatKey = 'cpu' | 'memory' | 'gpu' | 'tokens';

/** The first page: llama-server status, live figures with small charts, loaded models, recent errors. */
export class DashboardPage extends Component<AppContext> {
  private cards!: Record<StatKey, StatCard>;
  private nodes!: KeyedList<LlamaCard['props']>;
  private loaded!: KeyedList<LoadedModelRow['props']>;
  private alerts!: KeyedList<AlertRow['props']>;
  /** Points loaded from the stored history, older than the live samples. */
  private history: Record<StatKey, TimePoint[]> = { cpu: [], memory: [], gpu: [], tokens: [] };

  protected override render(): HTMLElement {
    const nodes = h('div', { class: 'llama-nodes' });
    const stats = h('section', { class: 'grid stats', 'aria-label': 'Live metrics' });
    const loaded = h('ul', { class: 'plain-list' });
    const alerts = h('ul', { class: 'plain-list alerts' });
    const page = h(
      'div',
      { class: 'page dashboard', 'data-page': 'dashboard' },
      h('section', { 'aria-label': 'llama-server' }, nodes, h('p', { class: 'empty nodes-empty muted' }, 'No supervisor has reported yet.')),
      stats,
      h(
        'div',
        { class: 'grid two' },
        h('section', { class: 'card' }, h('h2', null, 'Loaded models'), loaded, h('p', { class: 'empty loaded-empty muted' }, 'No model is loaded.')),
        h(
          'section',
          { class: 'card' },
          h('h2', null, 'Recent errors and warnings'),
          alerts,
          h('p', { class: 'empty alerts-empty muted' }, 'Nothing to report.'),
          h('a', { href: this.props.router.href('/logs?level=warn'), 'data-route': '' }, 'All warnings and errors →'),
        ),
      ),
    );
    this.cards = {
      cpu: this.adopt(new StatCard({ title: 'CPU', max: 100 }), stats),
      memory: this.adopt(new StatCard({ title: 'Memory', max: 100 }), stats),
      gpu: this.adopt(new StatCard({ title: 'GPU', max: 100 }), stats),
      tokens: this.adopt(new StatCard({ title: 'Tokens/s' }), stats),
    };
    this.nodes = new KeyedList(nodes, (p) => p.status.nodeId, (p) => new LlamaCard(p).mount(nodes));
    this.loaded = new KeyedList(loaded, (p) => `${p.model.nodeId}/${p.model.id}`, (p) => new LoadedModelRow(p));
    this.alerts = new KeyedList(alerts, (a) => a.key, (a) => new AlertRow(a));
    this.own(() => {
      this.nodes.clear();
      this.loaded.clear();
      this.alerts.clear();
    });
    return page;
  }

  protected override onMount(): void {
    const { store } = this.props;
    this.own(store.subscribe('llama', () => this.showNodes(), true));
    this.own(store.subscribe('nodes', () => this.showNodes()));
    // The cards hide the controls the role cannot use.
    this.own(store.subscribe('identity', () => this.showNodes()));
    this.own(store.subscribe('recentMetrics', () => this.showStats(), true));
    this.own(store.subscribe('settings', () => this.showStats()));
    this.own(store.subscribe('models', () => this.showModels(), true));
    this.own(store.subscribe('metrics', () => this.showModels()));
    for (const key of ['models', 'llama', 'logs'] as const) {
      this.own(store.subscribe(key, () => this.showAlerts()));
    }
    this.showAlerts();
    // Placement (#14): memory per device, under the live figures.
    this.own(mountMemoryBars(this.props, this.el, this.el.querySelector('.grid.two')));
    markFirstRender();
    void this.loadHistory();
  }

  private showNodes(): void {
    const nodes = this.props.store.get('nodes');
    const list = this.props.store.get('llama').map((status) => ({ ctx: this.props, status, node: nodeOf(nodes, status.nodeId) }));
    this.nodes.reconcile(list);
    (this.el.querySelector('.nodes-empty') as HTMLElement).hidden = list.length > 0;
  }

  private showModels(): void {
    const { store } = this.props;
    const inference = new Map((store.get('metrics')?.models ?? []).map((m) => [m.modelId, m]));
    const units = store.get('settings')?.units.memory ?? 'binary';
    const active = store
      .get('models')
      .filter((m) => ['loaded', 'loading', 'sleeping'].includes(m.state.status))
      .map((model) => ({ model, inference: inference.get(model.id), units }));
    this.loaded.reconcile(active);
    (this.el.querySelector('.loaded-empty') as HTMLElement).hidden = active.length > 0;
  }

  private showAlerts(): void {
    const { store } = this.props;
    const alerts = collectAlerts(store.get('models'), store.get('llama'), store.get('logs'));
    this.alerts.reconcile(alerts);
    (this.el.querySelector('.alerts-empty') as HTMLElement).hidden = alerts.length > 0;
  }

  private showStats(): void {
    const { store } = this.props;
    const samples = store.get('recentMetrics');
    const last = samples.at(-1);
    const settings = store.get('settings');
    const units = settings?.units.memory ?? 'binary';
    const series = (key: StatKey, read: (s: MetricsSample) => number | null): number[] => {
      const firstLive = samples[0]?.ts ?? Infinity;
      const older = this.history[key].filter((p) => p.ts < firstLive).map((p) => p.value);
      const live = samples.map(read).filter((v): v is number => v !== null);
      return [...older, ...live].slice(-SPARK_POINTS);
    };
    const cpu = last?.cpu.usagePct ?? null;
    const mem = last ? memoryPct(last) : null;
    const gpu = last ? gpuPct(last) : null;
    const firstGpu = last?.gpus[0];
    this.cards.cpu.set({
      value: formatPct(cpu),
      detail: last ? `load ${last.cpu.load.map((l) => l.toFixed(2)).join(' ')}` : 'waiting for metrics',
      series: series('cpu', (s) => s.cpu.usagePct),
      warn: (cpu ?? 0) > 80,
    });
    this.cards.memory.set({
      value: formatPct(mem),
      detail: last ? `${formatBytes(last.memory.usedBytes, units)} of ${formatBytes(last.memory.totalBytes, units)}` : '',
      series: series('memory', memoryPct),
      warn: (mem ?? 0) > 85,
    });
    this.cards.gpu.set({
      value: formatPct(gpu),
      detail: firstGpu
        ? `${last?.gpus.length ?? 0} × ${firstGpu.name} · ${formatBytes(firstGpu.memoryUsedBytes, units)} · ${formatTemp(firstGpu.temperatureC, settings?.units.temperature)}`
        : 'no GPU reported',
      series: series('gpu', gpuPct),
      warn: (gpu ?? 0) > 85,
    });
    this.cards.tokens.set({
      value: last ? formatRate(genTokensPerSec(last)) : '—',
      detail: last ? `prompt ${formatRate(promptTokensPerSec(last))}` : '',
      series: series('tokens', genTokensPerSec),
      warn: false,
    });
  }

  /** Fills the small charts with the last minutes of stored history, so they start full. */
  private async loadHistory(): Promise<void> {
    const last = this.props.store.get('metrics');
    const gpus = last?.gpus.map((g) => g.index) ?? [];
    const models = last?.models.map((m) => m.modelId) ?? [];
    const names = [DashboardSeries.cpu, DashboardSeries.memory, ...gpus.map(DashboardSeries.gpuUtil), ...models.map(DashboardSeries.modelGen)];
    const to = Date.now();
    try {
      const reply = await this.props.store.request('metrics:history', { from: to - HISTORY_MS, to, resolution: 'raw', series: names });
      const get = (name: string): MetricsPoint[] | undefined => reply.series[name];
      this.history = {
        cpu: combineSeries([get(DashboardSeries.cpu)], ([v]) => v ?? null),
        memory: combineSeries([get(DashboardSeries.memory)], ([v]) => v ?? null),
        gpu: combineSeries(gpus.map((i) => get(DashboardSeries.gpuUtil(i))), mean),
        tokens: combineSeries(models.map((id) => get(DashboardSeries.modelGen(id))), sum),
      };
      if (!this.isDestroyed) {
        this.showStats();
      }
    } catch {
      // The charts fill from live samples instead.
    }
  }
}

let rendered = false;

/** Marks the first rendered dashboard for the time-to-first-render benchmark. */
function markFirstRender(): void {
  if (!rendered) {
    rendered = true;
    performance.mark('llamaproxy:first-dashboard');
    document.documentElement.dataset.firstRender = String(Math.round(performance.now()));
  }
}
