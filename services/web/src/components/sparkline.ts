import { Component } from '../core/component.js';
import { h, svg } from '../core/dom.js';

export interface SparklineProps {
  /** Fixed top of the scale (100 for percentages); otherwise the largest value. */
  max?: number;
  label: string;
}

/** A tiny SVG line chart for the dashboard: cheap enough to redraw on every sample. */
export class Sparkline extends Component<SparklineProps> {
  private line!: SVGPolylineElement;
  private area!: SVGPolygonElement;

  protected override render(): HTMLElement {
    const chart = svg('svg', { viewBox: '0 0 100 30', preserveAspectRatio: 'none', 'aria-hidden': 'true' });
    this.area = svg('polygon', { class: 'sparkline-area' });
    this.line = svg('polyline', { class: 'sparkline-line', 'vector-effect': 'non-scaling-stroke' });
    chart.append(this.area, this.line);
    const root = h('div', { class: 'sparkline', role: 'img', 'aria-label': this.props.label });
    root.append(chart);
    return root;
  }

  set(values: readonly number[]): void {
    const max = this.props.max ?? Math.max(1, ...values);
    const step = values.length > 1 ? 100 / (values.length - 1) : 0;
    const points = values.map((v, i) => `${(i * step).toFixed(2)},${(30 - (Math.min(v, max) / max) * 28 - 1).toFixed(2)}`);
    this.line.setAttribute('points', points.join(' '));
    this.area.setAttribute('points', points.length > 1 ? `0,30 ${points.join(' ')} 100,30` : '');
  }
}
