import { Component } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import { formatClock } from '../lib/format.js';

export interface Alert {
  key: string;
  ts: number;
  level: 'error' | 'warn';
  source: string;
  message: string;
}

/** One line of "recent errors": time, source and message (text only). */
export class AlertRow extends Component<Alert> {
  protected override render(): HTMLElement {
    return h('li', { class: 'alert-row' }, h('time', { class: 'muted' }), h('span', { class: 'source badge' }), h('span', { class: 'message' }));
  }

  protected override patch(): void {
    const a = this.props;
    this.el.dataset.level = a.level;
    const time = this.el.querySelector('time') as HTMLTimeElement;
    setText(time, formatClock(a.ts));
    time.dateTime = new Date(a.ts).toISOString();
    setText(this.el.querySelector('.source') as HTMLElement, a.source);
    setText(this.el.querySelector('.message') as HTMLElement, a.message);
  }
}
