import { Component } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import type { StateManager } from '../core/state-manager.js';
import type { ConnectionState } from '../core/state.js';

function describe(c: ConnectionState): string {
  const queued = c.queued > 0 ? ` · ${c.queued} queued` : '';
  switch (c.status) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return `Connecting…${queued}`;
    case 'reconnecting':
      return `Reconnecting (${c.attempt})…${queued}`;
    case 'offline':
      return `Offline${queued}`;
  }
}

/** A dot and a word for the gateway connection; screen readers hear changes (role=status). */
export class ConnectionIndicator extends Component<StateManager> {
  protected override render(): HTMLElement {
    return h('span', { class: 'connection', role: 'status' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), h('span', { class: 'label' }));
  }

  protected override onMount(): void {
    this.own(this.props.subscribe('connection', (c) => this.show(c), true));
  }

  private show(c: ConnectionState): void {
    this.el.dataset.status = c.status;
    setText(this.el.querySelector('.label') as HTMLElement, describe(c));
  }
}
