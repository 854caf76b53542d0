import { Component } from '../core/component.js';
import { h, replaceChildren, svg } from '../core/dom.js';
import { formatCount } from '../lib/format.js';
import type { UsageChartData } from '../lib/usage-chart.js';

const WIDTH = 600;
const HEIGHT = 160;
const AXIS = 16;
const COLOURS = 6;
/** Room above the tallest bar for its total, so the label is never drawn on the bar. */
const HEADROOM = 14;

/**
 * Stacked bars of tokens per period (usage-chart.ts computes them), with a legend; plain SVG, no
 * chart library. Each bar's title tells its period and total, for a pointer or a screen reader.
 */
export class UsageChart extends Component<{ label: string }> {
  private plot!: SVGSVGElement;
  private legend!: HTMLElement;

  protected override render(): HTMLElement {
    this.plot = svg('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT + AXIS}`, class: 'usage-chart-plot', role: 'img', 'aria-label': this.props.label });
    this.legend = h('ul', { class: 'usage-chart-legend' });
    const root = h('figure', { class: 'usage-chart' });
    root.append(this.plot, this.legend);
    return root;
  }

  /** Draws `data` (replacing what was drawn). */
  set(data: UsageChartData): void {
    const n = data.periods.length;
    const slot = n === 0 ? WIDTH : WIDTH / n;
    const barWidth = Math.max(2, Math.min(48, slot * 0.7));
    const scale = data.max === 0 ? 0 : (HEIGHT - HEADROOM) / data.max;
    const shapes: SVGElement[] = [];
    data.periods.forEach((period, i) => {
      const x = i * slot + (slot - barWidth) / 2;
      let y = HEIGHT;
      let total = 0;
      data.series.forEach((s, k) => {
        const v = s.values[i] ?? 0;
        total += v;
        if (v <= 0) {
          return;
        }
        const height = v * scale;
        y -= height;
        const rect = svg('rect', { x: x.toFixed(1), y: y.toFixed(1), width: barWidth.toFixed(1), height: height.toFixed(1), class: `usage-bar series-${k % COLOURS}` });
        const title = svg('title');
        title.textContent = `${period} · ${s.label}: ${formatCount(v)} tokens`;
        rect.append(title);
        shapes.push(rect);
      });
      // First, middle and last period under the bars, so labels never overlap.
      if (i === 0 || i === n - 1 || i === Math.floor(n / 2)) {
        const label = svg('text', { x: (i * slot + slot / 2).toFixed(1), y: String(HEIGHT + AXIS - 3), class: 'usage-axis', 'text-anchor': 'middle' });
        label.textContent = period;
        shapes.push(label);
      }
      if (total > 0 && total === data.max) {
        const top = svg('text', { x: (i * slot + slot / 2).toFixed(1), y: String(Math.max(10, y - 3)), class: 'usage-axis', 'text-anchor': 'middle' });
        top.textContent = `${formatCount(total)} tokens`;
        shapes.push(top);
      }
    });
    this.plot.replaceChildren(...shapes);
    replaceChildren(
      this.legend,
      data.series.map((s, k) => h('li', null, h('span', { class: `usage-swatch series-${k % COLOURS}`, 'aria-hidden': 'true' }), s.label)),
    );
  }
}
