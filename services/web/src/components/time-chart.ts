import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { Component } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import type { Columns } from '../lib/align.js';
import { cssColor } from '../lib/css-color.js';
import { formatBytes, formatPct, formatRate, formatTemp } from '../lib/format.js';

export type ChartUnit = 'pct' | 'bytes' | 'bytesPerSec' | 'tokensPerSec' | 'celsius' | 'watts';

export interface ChartLine {
  label: string;
  unit: ChartUnit;
}

export interface TimeChartProps {
  title: string;
  lines: ChartLine[];
}

const PALETTE = ['--chart-1', '--chart-2', '--chart-3', '--chart-4'];

export function formatValue(value: number | null, unit: ChartUnit): string {
  switch (unit) {
    case 'pct':
      return formatPct(value, 0);
    case 'bytes':
      return formatBytes(value);
    case 'bytesPerSec':
      return `${formatBytes(value)}/s`;
    case 'tokensPerSec':
      return formatRate(value);
    case 'celsius':
      return formatTemp(value);
    case 'watts':
      return value === null ? '—' : `${value.toFixed(0)} W`;
  }
}

/**
 * A uPlot time-series chart in a card. Colours are read from the theme tokens at draw time, so
 * `redraw()` after a theme change is enough. Lines of up to two units get an axis each.
 */
export class TimeChart extends Component<TimeChartProps> {
  private plot: uPlot | null = null;
  /** x column then one column per line, always (uPlot reads every configured series). */
  private columns: Columns = [[]];
  private observer: ResizeObserver | null = null;

  protected override render(): HTMLElement {
    return h(
      'section',
      { class: 'card chart-card' },
      h('h2', null, this.props.title),
      h('div', { class: 'chart', role: 'img', 'aria-label': `${this.props.title} over time` }),
      h('p', { class: 'empty muted' }, 'No data for this range.'),
    );
  }

  protected override onMount(): void {
    this.columns = [[], ...this.props.lines.map(() => [])];
    const box = this.el.querySelector('.chart') as HTMLElement;
    this.plot = new uPlot(this.options(box.clientWidth || 600), this.columns, box);
    this.observer = new ResizeObserver(() => this.plot?.setSize({ width: box.clientWidth, height: 220 }));
    this.observer.observe(box);
  }

  protected override onDestroy(): void {
    this.observer?.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }

  get data(): Columns {
    return this.columns;
  }

  setData(columns: Columns): void {
    if (columns.length !== this.props.lines.length + 1) {
      throw new Error(`${this.props.title}: ${columns.length - 1} columns for ${this.props.lines.length} lines`);
    }
    this.columns = columns;
    this.plot?.setData(columns);
    const empty = columns[0].length === 0 || columns.slice(1).every((c) => c.every((v) => v === null));
    const note = this.el.querySelector('.empty') as HTMLElement;
    note.hidden = !empty;
    setText(note, 'No data for this range.');
  }

  redraw(): void {
    this.plot?.redraw();
  }

  private options(width: number): uPlot.Options {
    const units = [...new Set(this.props.lines.map((l) => l.unit))];
    const muted = (): string => cssColor('--muted');
    const grid = (): string => cssColor('--border');
    const axes: uPlot.Axis[] = [{ stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }];
    units.slice(0, 2).forEach((unit, i) => {
      axes.push({
        scale: unit,
        side: i === 0 ? 3 : 1,
        size: 84,
        stroke: muted,
        grid: { show: i === 0, stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1 },
        values: (_u, values) => values.map((v) => formatValue(v, unit)),
      });
    });
    const scales: uPlot.Scales = { x: { time: true } };
    for (const unit of units) {
      scales[unit] = unit === 'pct' ? { range: [0, 100] } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] };
    }
    return {
      width,
      height: 220,
      scales,
      axes,
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      series: [
        {},
        ...this.props.lines.map((line, i) => ({
          label: line.label,
          scale: line.unit,
          stroke: () => cssColor(PALETTE[i % PALETTE.length] ?? '--chart-1'),
          width: 1.5,
          spanGaps: false,
          value: (_u: uPlot, v: number | null) => formatValue(v, line.unit),
        })),
      ],
    };
  }
}
