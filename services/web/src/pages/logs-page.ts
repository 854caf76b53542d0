import type { LogEntry, LogLevel, LogSource } from '@llamaproxy/shared';
import { LogList } from '../components/log-list.js';
import { attempt } from '../core/actions.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { LOG_LEVELS, LOG_SOURCES } from '../core/contract.js';
import { h, replaceChildren, setText, valueOf } from '../core/dom.js';
import { needs, watchPermissions } from '../core/permissions.js';
import { downloadText, fileStamp } from '../lib/download.js';
import { filterFromSearch, matchesLog, toQuery, type LogFilter } from '../lib/log-filter.js';

const PAGE = 200;
const MAX_SHOWN = 5000;
const NEAR_EDGE_PX = 40;

/**
 * Live tail of every service's logs with filters. The newest lines come from the state (pushed by
 * `logs:entry`); older ones are fetched with `logs:query { beforeId }` when scrolling to the top.
 */
export class LogsPage extends Component<AppContext> {
  private filter: LogFilter = filterFromSearch(location.search);
  private shown: LogEntry[] = [];
  private buffered: LogEntry[] = [];
  private paused = false;
  /** The model ids the source choices were built from (null before the first build). */
  private sourceIds: string | null = null;
  private hasMore = false;
  private loadingOlder = false;
  private token = 0;
  private list!: LogList;
  private scroller!: HTMLElement;

  protected override render(): HTMLElement {
    const f = this.filter;
    this.scroller = h('div', { class: 'log-scroller', tabindex: 0, 'aria-label': 'Log lines, newest at the bottom' });
    const page = h(
      'div',
      { class: 'page logs-page', 'data-page': 'logs' },
      h(
        'div',
        { class: 'toolbar card' },
        h(
          'div',
          { class: 'actions' },
          h(
            'select',
            { class: 'level', 'aria-label': 'Level' },
            h('option', { value: '', selected: f.level === null }, 'All levels (debug too)'),
            LOG_LEVELS.filter((l) => l !== 'debug').map((l) => h('option', { value: l, selected: f.level === l }, `${l} and worse`)),
          ),
          h('select', { class: 'source', 'aria-label': 'Source' }),
          h('input', { type: 'search', class: 'search', value: f.text, placeholder: 'Search  ( / )', 'aria-label': 'Search messages', 'aria-keyshortcuts': '/' }),
        ),
        h(
          'div',
          { class: 'actions' },
          h('button', { class: 'button', 'data-action': 'pause', 'aria-pressed': 'false', 'aria-keyshortcuts': 'p' }, 'Pause'),
          h('button', { class: 'button', 'data-action': 'clear-view' }, 'Clear view'),
          h('button', { class: 'button', 'data-action': 'export' }, 'Export'),
          h('button', { class: 'button danger', 'data-action': 'delete', ...needs('logs:clear') }, 'Delete stored logs'),
        ),
      ),
      h('div', { class: 'card log-card' }, h('p', { class: 'older muted' }), this.scroller, h('p', { class: 'status muted', 'aria-live': 'polite' })),
    );
    this.list = this.adopt(new LogList(), this.scroller);
    return page;
  }

  protected override events(): EventMap {
    return {
      'change .level': (_e, el) => this.setFilter({ level: (valueOf(el) || null) as LogLevel | null }),
      'change .source': (_e, el) => {
        const [kind, value] = splitOnce(valueOf(el));
        this.setFilter({ source: kind === 'source' ? (value as LogSource) : null, modelId: kind === 'model' ? value : null });
      },
      'input .search': (_e, el) => this.setFilter({ text: valueOf(el) }),
      'click [data-action="pause"]': () => this.togglePause(),
      'click [data-action="clear-view"]': () => this.show([], false),
      'click [data-action="export"]': () => this.export(),
      'click [data-action="delete"]': () => void this.deleteStored(),
    };
  }

  protected override onMount(): void {
    const { store, commands } = this.props;
    // `scroll` does not bubble, so it cannot be delegated.
    this.scroller.addEventListener('scroll', () => {
      if (this.scroller.scrollTop < NEAR_EDGE_PX) {
        void this.loadOlder();
      }
    });
    this.own(store.subscribe('models', () => this.fillSources(), true));
    this.own(watchPermissions(store, this.el));
    this.own(store.subscribe('logs', (logs) => this.onLive(logs)));
    this.own(
      commands.add([
        { id: 'logs:search', title: 'Search logs', group: 'Logs', keys: '/', run: () => (this.el.querySelector('.search') as HTMLInputElement).focus() },
        { id: 'logs:pause', title: 'Pause or resume the live tail', group: 'Logs', keys: 'p', run: () => this.togglePause() },
        { id: 'logs:export', title: 'Export the shown logs', group: 'Logs', run: () => this.export() },
      ]),
    );
    void this.reload();
  }

  private setFilter(change: Partial<LogFilter>): void {
    this.filter = { ...this.filter, ...change };
    void this.reload();
  }

  private fillSources(): void {
    const select = this.el.querySelector('.source') as HTMLSelectElement;
    const current = this.filter.modelId !== null ? `model:${this.filter.modelId}` : this.filter.source !== null ? `source:${this.filter.source}` : '';
    const models = [...new Set(this.props.store.get('models').map((m) => m.id))].sort();
    // A state change leaves the ids alone: thousands of options are rebuilt only when they change.
    const ids = models.join('\n');
    if (ids === this.sourceIds) {
      return;
    }
    this.sourceIds = ids;
    replaceChildren(
      select,
      h('option', { value: '' }, 'All sources'),
      h('optgroup', { label: 'Services' }, LOG_SOURCES.map((s) => h('option', { value: `source:${s}` }, s))),
      models.length > 0 ? h('optgroup', { label: 'Models' }, models.map((id) => h('option', { value: `model:${id}` }, id))) : null,
    );
    select.value = current;
  }

  /** The newest page for the filter, joined with live lines already in the state. */
  private async reload(): Promise<void> {
    const token = ++this.token;
    this.buffered = [];
    this.status('Loading…');
    try {
      const { entries, hasMore } = await this.props.store.request('logs:query', toQuery(this.filter, PAGE));
      if (token !== this.token || this.isDestroyed) {
        return;
      }
      const fetched = entries.reverse();
      const oldest = fetched[0]?.id ?? 0;
      const live = this.props.store.get('logs').filter((e) => e.id >= oldest && matchesLog(e, this.filter));
      this.show(uniqueById([...fetched, ...live]), hasMore);
    } catch {
      if (token === this.token) {
        // Offline: show what the state holds.
        this.show(this.props.store.get('logs').filter((e) => matchesLog(e, this.filter)), true);
      }
    }
  }

  private show(entries: LogEntry[], hasMore: boolean): void {
    this.shown = entries.slice(-MAX_SHOWN);
    this.hasMore = hasMore || entries.length > MAX_SHOWN;
    this.list.reset(this.shown);
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.status();
  }

  private onLive(logs: readonly LogEntry[]): void {
    if (logs.length === 0) {
      this.show([], false);
      return;
    }
    const lastId = Math.max(this.shown.at(-1)?.id ?? 0, this.buffered.at(-1)?.id ?? 0);
    const fresh = logs.filter((e) => e.id > lastId && matchesLog(e, this.filter));
    if (fresh.length === 0) {
      return;
    }
    if (this.paused) {
      this.buffered.push(...fresh);
      this.status();
      return;
    }
    this.appendLive(fresh);
  }

  private appendLive(entries: LogEntry[]): void {
    const atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < NEAR_EDGE_PX;
    this.shown.push(...entries);
    this.list.append(entries);
    const excess = this.shown.length - MAX_SHOWN;
    if (excess > 0) {
      this.shown.splice(0, excess);
      this.list.trimTop(excess);
      this.hasMore = true;
    }
    if (atBottom) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    }
    this.status();
  }

  private async loadOlder(): Promise<void> {
    const first = this.shown[0];
    if (!this.hasMore || this.loadingOlder || first === undefined) {
      return;
    }
    this.loadingOlder = true;
    const token = this.token;
    this.status('Loading older lines…');
    try {
      const { entries, hasMore } = await this.props.store.request('logs:query', toQuery(this.filter, PAGE, first.id));
      if (token !== this.token || this.isDestroyed) {
        return;
      }
      const older = entries.reverse();
      const height = this.scroller.scrollHeight;
      this.shown.unshift(...older);
      this.list.prepend(older);
      this.hasMore = hasMore;
      this.scroller.scrollTop += this.scroller.scrollHeight - height;
    } catch {
      // Try again on the next scroll.
    } finally {
      this.loadingOlder = false;
      this.status();
    }
  }

  private togglePause(): void {
    this.paused = !this.paused;
    const button = this.el.querySelector('[data-action="pause"]') as HTMLElement;
    button.setAttribute('aria-pressed', String(this.paused));
    setText(button, this.paused ? 'Resume' : 'Pause');
    if (!this.paused && this.buffered.length > 0) {
      const held = this.buffered;
      this.buffered = [];
      this.appendLive(held);
    }
    this.status();
  }

  private export(): void {
    downloadText(`llamaproxy-logs-${fileStamp()}.json`, JSON.stringify(this.shown, null, 2));
  }

  private async deleteStored(): Promise<void> {
    if (!confirm('Delete every stored log line? This cannot be undone.')) {
      return;
    }
    const result = await attempt(this.props, 'Deleting logs', () => this.props.store.request('logs:clear', {}));
    if (result !== null) {
      this.props.toasts.success(`Deleted ${result.cleared} log lines`);
    }
  }

  private status(text?: string): void {
    const parts = [`${this.shown.length} lines`];
    // A node filter comes only from a link (?node=): say so, since no control shows it.
    if (this.filter.nodeId !== null) {
      parts.push(`node ${this.filter.nodeId}`);
    }
    if (this.paused) {
      parts.push(`paused, ${this.buffered.length} new`);
    }
    setText(this.el.querySelector('.status') as HTMLElement, text ?? parts.join(' · '));
    setText(this.el.querySelector('.older') as HTMLElement, this.hasMore ? 'Scroll up for older lines' : this.shown.length > 0 ? 'Start of the log' : 'No log lines match.');
  }
}

function splitOnce(value: string): [string, string] {
  const i = value.indexOf(':');
  return i < 0 ? [value, ''] : [value.slice(0, i), value.slice(i + 1)];
}

function uniqueById(entries: LogEntry[]): LogEntry[] {
  const byId = new Map(entries.map((e) => [e.id, e]));
  return [...byId.values()].sort((a, b) => a.id - b.id);
}
