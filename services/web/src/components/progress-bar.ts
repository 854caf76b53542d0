import { Component } from '../core/component.js';
import { h, setText } from '../core/dom.js';

export interface ProgressProps {
  /** 0..1, or null for an indeterminate bar. */
  value: number | null;
  label: string;
}

export class ProgressBar extends Component<ProgressProps> {
  protected override render(): HTMLElement {
    return h(
      'div',
      { class: 'progress' },
      h('div', { class: 'progress-track', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, h('div', { class: 'progress-fill' })),
      h('span', { class: 'progress-label' }),
    );
  }

  protected override patch(): void {
    const { value, label } = this.props;
    const track = this.el.querySelector('.progress-track') as HTMLElement;
    const fill = this.el.querySelector('.progress-fill') as HTMLElement;
    track.classList.toggle('indeterminate', value === null);
    track.setAttribute('aria-label', label);
    if (value === null) {
      track.removeAttribute('aria-valuenow');
      fill.style.width = '';
    } else {
      const pct = Math.round(Math.max(0, Math.min(1, value)) * 100);
      track.setAttribute('aria-valuenow', String(pct));
      fill.style.width = `${pct}%`;
    }
    setText(this.el.querySelector('.progress-label') as HTMLElement, value === null ? label : `${label} ${Math.round(value * 100)} %`);
  }
}
