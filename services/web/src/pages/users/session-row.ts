import type { SessionView } from '@llamaproxy/shared';
import { Component } from '../../core/component.js';
import { h, setText } from '../../core/dom.js';
import { formatDateTime } from '../../lib/format.js';

export interface SessionRowProps {
  session: SessionView;
  busy: boolean;
}

/** One sign-in session in the Sessions table, with its Revoke button (handled by the page). */
export class SessionRow extends Component<SessionRowProps> {
  protected override render(): HTMLElement {
    return h(
      'tr',
      { 'data-handle': this.props.session.handle },
      h('td', null, h('span', { class: 'username' }), ' ', h('span', { class: 'badge current', 'data-tone': 'ok' }, 'this browser')),
      h('td', { class: 'address' }),
      h('td', { class: 'agent hide-narrow' }),
      h('td', { class: 'created hide-narrow' }),
      h('td', { class: 'last-seen' }),
      h('td', { class: 'expires hide-narrow' }),
      h('td', { class: 'row-actions' }, h('button', { type: 'button', class: 'button ghost danger', 'data-action': 'revoke' }, 'Revoke')),
    );
  }

  protected override patch(): void {
    const { session: s, busy } = this.props;
    const q = (selector: string): HTMLElement => this.el.querySelector(selector) as HTMLElement;
    setText(q('.username'), s.username);
    q('.current').hidden = !s.current;
    setText(q('.address'), s.address ?? '—');
    const agent = q('.agent');
    setText(agent, s.userAgent ?? '—');
    agent.title = s.userAgent ?? '';
    setText(q('.created'), formatDateTime(s.createdAt));
    setText(q('.last-seen'), formatDateTime(s.lastSeenAt));
    setText(q('.expires'), formatDateTime(s.expiresAt));
    const revoke = q('[data-action="revoke"]') as HTMLButtonElement;
    revoke.disabled = busy;
    revoke.setAttribute('aria-label', `Revoke the session of ${s.username} from ${s.address ?? 'an unknown address'}`);
  }
}
