import { Component } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h } from '../core/dom.js';

/** Shown instead of a page the signed-in user's role cannot use (a typed or old link). */
export class NotAllowedPage extends Component<AppContext> {
  protected override render(): HTMLElement {
    const role = this.props.store.get('identity')?.role ?? 'unknown';
    return h(
      'div',
      { class: 'page', 'data-page': 'not-allowed' },
      h(
        'section',
        { class: 'card' },
        h('h2', null, 'Not available to your role'),
        h('p', null, `You are signed in as ${role}; an admin can change your role on the Users page.`),
        h('p', null, h('a', { href: this.props.router.href('/'), 'data-route': '' }, 'Back to the dashboard')),
      ),
    );
  }
}
