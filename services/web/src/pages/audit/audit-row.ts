import type { AuditEntry } from '@llamaproxy/shared';
import { Component } from '../../core/component.js';
import { h, setText } from '../../core/dom.js';
import { formatDateTime } from '../../lib/format.js';

const OUTCOME_TONE = { ok: 'ok', error: 'bad', denied: 'busy' } as const satisfies Record<AuditEntry['outcome'], string>;

/** One audit record: when, who, what, the outcome and the (redacted) request. */
export class AuditRow extends Component<AuditEntry> {
  protected override render(): HTMLElement {
    return h(
      'tr',
      { 'data-id': this.props.id },
      h('td', { class: 'time' }),
      h('td', null, h('div', { class: 'user' }), h('div', { class: 'role muted' })),
      h('td', { class: 'event' }, h('code', { class: 'event-name' })),
      h('td', { class: 'target' }),
      h('td', null, h('span', { class: 'badge outcome' }), h('div', { class: 'error-code muted' })),
      h('td', { class: 'address hide-narrow' }),
      h('td', { class: 'summary' }),
    );
  }

  protected override patch(): void {
    const e = this.props;
    const q = (selector: string): HTMLElement => this.el.querySelector(selector) as HTMLElement;
    setText(q('.time'), formatDateTime(e.ts));
    setText(q('.user'), e.username ?? '—');
    setText(q('.role'), e.role ?? '');
    setText(q('.event-name'), e.event);
    setText(q('.target'), e.target ?? '');
    const outcome = q('.outcome');
    setText(outcome, e.outcome);
    outcome.dataset.tone = OUTCOME_TONE[e.outcome];
    setText(q('.error-code'), e.errorCode ?? '');
    setText(q('.address'), e.address ?? '—');
    const summary = q('.summary');
    setText(summary, e.summary);
    summary.title = e.summary;
  }
}
