import { Component } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h } from '../core/dom.js';

export class NotFoundPage extends Component<AppContext> {
  protected override render(): HTMLElement {
    return h(
      'div',
      { class: 'page', 'data-page': 'not-found' },
      h('section', { class: 'card' }, h('h2', null, 'Page not found'), h('p', null, h('a', { href: this.props.router.href('/'), 'data-route': '' }, 'Back to the dashboard'))),
    );
  }
}
