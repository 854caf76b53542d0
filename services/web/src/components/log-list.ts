import type { LogEntry } from '@llamaproxy/shared';
import { Component } from '../core/component.js';
import { h } from '../core/dom.js';
import { formatClock } from '../lib/format.js';

/**
 * An append-mostly list of log lines. Lines are only added at either end or removed from the
 * top, so it works on DOM fragments directly; messages are text nodes (never HTML).
 */
export class LogList extends Component {
  protected override render(): HTMLElement {
    return h('ol', { class: 'log-list', role: 'log', 'aria-label': 'Log entries' });
  }

  reset(entries: readonly LogEntry[]): void {
    this.el.replaceChildren(...entries.map(line));
  }

  append(entries: readonly LogEntry[]): void {
    this.el.append(...entries.map(line));
  }

  prepend(entries: readonly LogEntry[]): void {
    this.el.prepend(...entries.map(line));
  }

  /** Removes the `count` oldest lines. */
  trimTop(count: number): void {
    for (let i = 0; i < count && this.el.firstChild; i++) {
      this.el.firstChild.remove();
    }
  }
}

function line(e: LogEntry): HTMLLIElement {
  return h(
    'li',
    { class: 'log-line', 'data-level': e.level, 'data-id': e.id },
    h('time', { datetime: new Date(e.ts).toISOString() }, formatClock(e.ts, true)),
    h('span', { class: 'log-level' }, e.level),
    h('span', { class: 'log-source' }, e.modelId ?? e.source),
    h('span', { class: 'log-message' }, e.message),
  );
}
