import { Component, type EventMap } from '../../core/component.js';
import { h } from '../../core/dom.js';
import { authFrame } from './auth-frame.js';

export interface MessagePageProps {
  pageId: string;
  title: string;
  paragraphs: string[];
  /** `<code>` lines shown after the text (commands to run). */
  code?: string;
  actionLabel: string;
  onAction(): void;
}

/** A screen instead of the app when it cannot start: a reason and one action (usually "Try again"). */
export class MessagePage extends Component<MessagePageProps> {
  protected override render(): HTMLElement {
    const { pageId, title, paragraphs, code, actionLabel } = this.props;
    return authFrame(
      pageId,
      title,
      ...paragraphs.map((p) => h('p', null, p)),
      code === undefined ? null : h('pre', { class: 'command' }, h('code', null, code)),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button primary', 'data-action': 'retry' }, actionLabel)),
    );
  }

  protected override events(): EventMap {
    return { 'click [data-action="retry"]': () => this.props.onAction() };
  }
}
