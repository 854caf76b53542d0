import { Component } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import { Sparkline } from './sparkline.js';

export interface StatCardProps {
  title: string;
  /** Fixed top of the chart scale, e.g. 100 for percentages. */
  max?: number;
}

export interface StatValue {
  value: string;
  detail: string;
  series: readonly number[];
  /** Highlights the card when a threshold is passed. */
  warn: boolean;
}

/** A dashboard tile: a title, the current value, a detail line and a sparkline. */
export class StatCard extends Component<StatCardProps> {
  private chart!: Sparkline;

  protected override render(): HTMLElement {
    const card = h(
      'article',
      { class: 'card stat' },
      h('h2', { class: 'stat-title' }, this.props.title),
      h('div', { class: 'stat-value' }, '—'),
      h('div', { class: 'stat-detail muted' }),
    );
    this.chart = this.adopt(new Sparkline({ max: this.props.max, label: `${this.props.title} history` }), card);
    return card;
  }

  set(v: StatValue): void {
    setText(this.el.querySelector('.stat-value') as HTMLElement, v.value);
    setText(this.el.querySelector('.stat-detail') as HTMLElement, v.detail);
    this.el.classList.toggle('warn', v.warn);
    this.chart.set(v.series);
  }
}
