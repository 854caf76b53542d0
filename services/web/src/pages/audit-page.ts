import { AuditOutcome, type AuditEntry } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { field, h, setText, valueOf } from '../core/dom.js';
import { KeyedList } from '../core/keyed-list.js';
import { errorMessage } from '../core/transport.js';
import { NO_AUDIT_FILTER, appendOlder, auditCsv, auditEventSuggestions, auditQuery, type AuditFilter } from '../lib/audit.js';
import { downloadText, fileStamp } from '../lib/download.js';
import { AuditRow } from './audit/audit-row.js';

const PAGE = 100;

/**
 * Who changed what: every state-changing request, sign-in and sign-out, newest first. Filters
 * ask the gateway again; "Load older" pages back with `beforeId`; the export writes what is
 * loaded as CSV.
 */
export class AuditPage extends Component<AppContext> {
  private filter: AuditFilter = NO_AUDIT_FILTER;
  private entries: AuditEntry[] = [];
  private hasMore = false;
  private loading = false;
  /** Increases per filter change, so a late answer to an older filter is dropped. */
  private token = 0;
  private rows!: KeyedList<AuditEntry>;

  protected override render(): HTMLElement {
    const body = h('tbody');
    const page = h(
      'div',
      { class: 'page', 'data-page': 'audit' },
      h(
        'form',
        { class: 'card audit-filter', novalidate: true, 'aria-label': 'Filter the audit log' },
        h(
          'div',
          { class: 'form-grid' },
          field('User', h('input', { id: 'audit-user', name: 'username', type: 'search', autocomplete: 'off', spellcheck: 'false' })),
          field('Action', h('input', { id: 'audit-event', name: 'event', type: 'search', list: 'audit-events', placeholder: 'users: or models:load', autocomplete: 'off', spellcheck: 'false' })),
          field(
            'Outcome',
            h('select', { id: 'audit-outcome', name: 'outcome' }, h('option', { value: '' }, 'Any'), Object.values(AuditOutcome).map((o) => h('option', { value: o }, o))),
          ),
          field('From', h('input', { id: 'audit-from', name: 'from', type: 'datetime-local' })),
          field('To', h('input', { id: 'audit-to', name: 'to', type: 'datetime-local' })),
        ),
        h('datalist', { id: 'audit-events' }, auditEventSuggestions().map((e) => h('option', { value: e }))),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'button primary' }, 'Apply'),
          h('button', { type: 'button', class: 'button', 'data-action': 'reset' }, 'Reset'),
          h('span', { class: 'spacer' }),
          h('span', { class: 'count muted', 'aria-live': 'polite' }),
          h('button', { type: 'button', class: 'button', 'data-action': 'export' }, 'Export CSV'),
        ),
      ),
      h(
        'section',
        { class: 'card table-wrap', 'aria-label': 'Audit records' },
        h(
          'table',
          { class: 'table audit-table' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Time', 'User', 'Action', 'Target', 'Outcome', 'Address', 'Request'].map((label) => h('th', { scope: 'col', class: label === 'Address' ? 'hide-narrow' : null }, label)),
            ),
          ),
          body,
        ),
        h('p', { class: 'empty muted' }, 'Loading…'),
        h('p', { class: 'problem form-problem', role: 'alert' }),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', 'data-action': 'older', hidden: true }, 'Load older')),
      ),
    );
    this.rows = new KeyedList(body, (e) => String(e.id), (e) => new AuditRow(e));
    this.own(() => this.rows.clear());
    return page;
  }

  protected override events(): EventMap {
    return {
      submit: (e) => {
        e.preventDefault();
        this.applyForm();
      },
      'change select': () => this.applyForm(),
      'change input[type="datetime-local"]': () => this.applyForm(),
      'click [data-action="reset"]': () => {
        (this.el.querySelector('.audit-filter') as HTMLFormElement).reset();
        this.applyForm();
      },
      'click [data-action="older"]': () => void this.loadOlder(),
      'click [data-action="export"]': () => downloadText(`llamaproxy-audit-${fileStamp()}.csv`, auditCsv(this.entries), 'text/csv;charset=utf-8'),
    };
  }

  protected override onMount(): void {
    void this.reload();
  }

  private applyForm(): void {
    const form = this.el.querySelector('.audit-filter') as HTMLFormElement;
    const value = (name: string): string => valueOf(form.elements.namedItem(name) as Element);
    const outcome = value('outcome');
    this.filter = {
      username: value('username'),
      event: value('event'),
      outcome: outcome === '' ? null : (outcome as AuditFilter['outcome']),
      from: value('from'),
      to: value('to'),
    };
    void this.reload();
  }

  /** The newest page for the filter. */
  private async reload(): Promise<void> {
    const token = ++this.token;
    this.loading = true;
    this.status('Loading…');
    try {
      const { entries, hasMore } = await this.props.store.request('audit:query', auditQuery(this.filter, PAGE));
      if (token !== this.token || this.isDestroyed) {
        return;
      }
      this.entries = appendOlder([], entries);
      this.hasMore = hasMore;
      this.status();
    } catch (error) {
      if (token === this.token && !this.isDestroyed) {
        this.status(undefined, `Loading the audit log: ${errorMessage(error)}`);
      }
    } finally {
      if (token === this.token) {
        this.loading = false;
      }
    }
  }

  private async loadOlder(): Promise<void> {
    const oldest = this.entries.at(-1);
    if (oldest === undefined || this.loading || !this.hasMore) {
      return;
    }
    const token = this.token;
    this.loading = true;
    const button = this.el.querySelector('[data-action="older"]') as HTMLButtonElement;
    button.disabled = true;
    try {
      const { entries, hasMore } = await this.props.store.request('audit:query', auditQuery(this.filter, PAGE, oldest.id));
      if (token !== this.token || this.isDestroyed) {
        return;
      }
      this.entries = appendOlder(this.entries, entries);
      this.hasMore = hasMore;
      this.status();
    } catch (error) {
      this.status(undefined, `Loading older records: ${errorMessage(error)}`);
    } finally {
      this.loading = false;
      button.disabled = false;
    }
  }

  private status(loading?: string, problem = ''): void {
    this.rows.reconcile(this.entries);
    const empty = this.el.querySelector('.empty') as HTMLElement;
    empty.hidden = loading === undefined && this.entries.length > 0;
    setText(empty, loading ?? 'No audit record matches.');
    setText(this.el.querySelector('.problem') as HTMLElement, problem);
    setText(this.el.querySelector('.count') as HTMLElement, `${this.entries.length} loaded${this.hasMore ? ', more older' : ''}`);
    (this.el.querySelector('[data-action="older"]') as HTMLElement).hidden = !this.hasMore;
    (this.el.querySelector('[data-action="export"]') as HTMLButtonElement).disabled = this.entries.length === 0;
  }
}
