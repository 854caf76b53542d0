import type { ActivityRecord, CaptureSettings, UsagePeriod, UsageRow } from '@llamaproxy/shared';
import { UsageChart } from '../components/usage-chart.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { field, h, replaceChildren, setText, valueOf } from '../core/dom.js';
import { KeyedList } from '../core/keyed-list.js';
import { can, needs, watchPermissions } from '../core/permissions.js';
import { errorMessage } from '../core/transport.js';
import { activityCsv, matchesActivityFilter, mergeNewer, type ActivityFilterValues } from '../lib/api-endpoint.js';
import { downloadText, fileStamp } from '../lib/download.js';
import { formatDateTime, formatInt, formatRate } from '../lib/format.js';
import { usageChart, usageLabel, type UsageDimension } from '../lib/usage-chart.js';

const PAGE = 200;
const DAY = 86_400_000;
/** How soon after new requests the usage totals are asked for again (they change with every request). */
const USAGE_REFRESH_MS = 5000;
const USAGE_PERIODS = [['day', 'Day'], ['week', 'Week'], ['month', 'Month']] as const satisfies readonly (readonly [UsagePeriod, string])[];

/** Where the usage chart starts: 14 days, 12 weeks or about 12 months back. */
const usageFrom = (period: UsagePeriod, now: number): number => now - { day: 13, week: 7 * 12, month: 366 }[period] * DAY;

const ms = (v: number | null): string => (v === null ? '—' : v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`);

/** One request: time, who, model, endpoint, status, tokens, TTFT, speed, duration; details on click. */
class ActivityRow extends Component<ActivityRecord> {
  protected override render(): HTMLElement {
    return h(
      'tr',
      { 'data-id': this.props.id, tabindex: 0, 'data-action': 'details' },
      h('td', { class: 'time' }),
      h('td', { class: 'who' }),
      h('td', { class: 'model' }),
      h('td', { class: 'endpoint hide-narrow' }),
      h('td', null, h('span', { class: 'badge status' })),
      h('td', { class: 'tokens' }),
      h('td', { class: 'ttft hide-narrow' }),
      h('td', { class: 'speed hide-narrow' }),
      h('td', { class: 'duration' }),
    );
  }

  protected override patch(): void {
    const r = this.props;
    const q = (s: string): HTMLElement => this.el.querySelector(s) as HTMLElement;
    setText(q('.time'), formatDateTime(r.ts));
    setText(q('.who'), r.keyName ?? (r.username === null ? '—' : `${r.username} (session)`));
    setText(q('.model'), r.model ?? '—');
    setText(q('.endpoint'), `${r.endpoint}${r.stream ? ' (stream)' : ''}`);
    const status = q('.status');
    setText(status, String(r.status));
    status.dataset.tone = r.status >= 200 && r.status < 300 ? 'ok' : r.status === 499 ? 'busy' : 'bad';
    setText(q('.tokens'), r.promptTokens === null && r.completionTokens === null ? '—' : `${formatInt(r.promptTokens)} → ${formatInt(r.completionTokens)}`);
    setText(q('.ttft'), ms(r.ttftMs));
    setText(q('.speed'), formatRate(r.tokensPerSec));
    setText(q('.duration'), ms(r.durationMs));
  }
}

/**
 * Every request to the `/v1` endpoint, newest first, kept live by the gateway's `activity:new`
 * pushes (admins see everyone's, others their own; after a reconnect it asks for what it missed);
 * filters by model, key and status; details of one request; CSV export of what is loaded; usage
 * totals per key, user and model by day, week or month, with a chart.
 */
export class ActivityPage extends Component<AppContext> {
  private records: ActivityRecord[] = [];
  private filter: ActivityFilterValues = {};
  private token = 0;
  /** True once the current filter's first page arrived. */
  private loaded = false;
  /** Pushes that arrived while a load was in flight. */
  private pending: ActivityRecord[] = [];
  private rows!: KeyedList<ActivityRecord>;
  private chart!: UsageChart;
  private usage: UsageRow[] = [];
  private usageTimer: ReturnType<typeof setTimeout> | null = null;
  /** The record whose details are shown. */
  private shownId: number | null = null;

  protected override render(): HTMLElement {
    const chart = new UsageChart({ label: 'Tokens per period' });
    this.chart = chart;
    this.own(() => chart.destroy());
    this.own(() => {
      if (this.usageTimer !== null) {
        clearTimeout(this.usageTimer);
      }
    });
    const body = h('tbody');
    const page = h(
      'div',
      { class: 'page', 'data-page': 'activity' },
      h(
        'form',
        { class: 'card activity-filter', novalidate: true, 'aria-label': 'Filter the activity' },
        h(
          'div',
          { class: 'form-grid' },
          field('Model', h('input', { id: 'activity-model', name: 'model', type: 'search', maxlength: 512, autocomplete: 'off', spellcheck: 'false' })),
          field('Key id', h('input', { id: 'activity-key', name: 'keyId', type: 'search', maxlength: 64, autocomplete: 'off', spellcheck: 'false' })),
          field('Status', h('select', { id: 'activity-status', name: 'status' }, h('option', { value: '' }, 'Any'), h('option', { value: 'ok' }, 'Succeeded'), h('option', { value: 'error' }, 'Failed'))),
        ),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'submit', class: 'button primary' }, 'Apply'),
          h('span', { class: 'spacer' }),
          h('span', { class: 'count muted', 'aria-live': 'polite' }),
          h('button', { type: 'button', class: 'button', 'data-action': 'export' }, 'Export CSV'),
        ),
      ),
      h(
        'form',
        { class: 'card capture-form', novalidate: true, 'aria-label': 'Capture of prompts and outputs', ...needs('capture:update') },
        h('h2', null, 'Capture of prompts and outputs'),
        h('p', { class: 'muted' }, 'Off by default. While on, the prompts and outputs of the most recent requests are kept (in the database, never in logs) for admins to read in a request\'s details. Turning it off deletes them.'),
        h(
          'div',
          { class: 'form-grid' },
          field('Capture', h('select', { id: 'capture-enabled', name: 'enabled' }, h('option', { value: 'false' }, 'Off'), h('option', { value: 'true' }, 'On'))),
          field('Requests kept', h('input', { id: 'capture-max-requests', name: 'maxRequests', type: 'number', min: 1, max: 500, step: 1 })),
          field('KiB kept of each side', h('input', { id: 'capture-max-kib', name: 'maxKib', type: 'number', min: 1, max: 1024, step: 1 })),
        ),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, 'Save capture settings'), h('span', { class: 'capture-state muted', 'aria-live': 'polite' })),
      ),
      h(
        'section',
        { class: 'card details', hidden: true, 'aria-label': 'Request details' },
        h('h2', null, 'Request'),
        h('dl', { class: 'details-list' }),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button', 'data-action': 'capture', ...needs('capture:view') }, 'Show prompt and output')),
        h('div', { class: 'captured', hidden: true }, h('h3', null, 'Prompt (request body)'), h('pre', { class: 'code captured-request' }), h('h3', null, 'Output'), h('pre', { class: 'code captured-response' })),
        h('p', { class: 'capture-problem muted' }),
      ),
      h(
        'section',
        { class: 'card table-wrap', 'aria-label': 'Requests' },
        h(
          'table',
          { class: 'table activity-table' },
          h('thead', null, h('tr', null, ['Time', 'Key / user', 'Model', 'Endpoint', 'Status', 'Tokens in → out', 'TTFT', 'Speed', 'Duration'].map((label) => h('th', { scope: 'col', class: ['Endpoint', 'TTFT', 'Speed'].includes(label) ? 'hide-narrow' : null }, label)))),
          body,
        ),
        h('p', { class: 'empty muted' }, 'Loading…'),
        h('p', { class: 'problem form-problem', role: 'alert' }),
      ),
      h(
        'section',
        { class: 'card usage', 'aria-label': 'Usage' },
        h(
          'div',
          { class: 'usage-head' },
          h('h2', null, 'Usage'),
          h('span', { class: 'spacer' }),
          field('Per', h('select', { id: 'usage-period', name: 'period', 'data-usage': 'period' }, USAGE_PERIODS.map(([value, label]) => h('option', { value }, label)))),
          field('Stacked by', h('select', { id: 'usage-by', name: 'by', 'data-usage': 'by' }, h('option', { value: 'model' }, 'Model'), h('option', { value: 'key' }, 'Key'), h('option', { value: 'user' }, 'User'))),
        ),
        h('p', { class: 'usage-empty muted' }, 'No request in this period yet.'),
        this.chart.el,
        h('div', { class: 'table-wrap' }, h('table', { class: 'table usage-table' }, h('thead', null, h('tr', null, ['Period', 'Key', 'User', 'Model', 'Requests', 'Errors', 'Prompt tokens', 'Generated tokens'].map((l) => h('th', { scope: 'col' }, l)))), h('tbody', { class: 'usage-body' }))),
      ),
    );
    this.rows = new KeyedList(body, (r) => String(r.id), (r) => new ActivityRow(r));
    this.own(() => this.rows.clear());
    return page;
  }

  protected override events(): EventMap {
    return {
      'submit .activity-filter': (e) => {
        e.preventDefault();
        this.applyForm();
      },
      'submit .capture-form': (e) => {
        e.preventDefault();
        void this.saveCapture();
      },
      'click [data-action="capture"]': () => void this.showCapture(),
      'change .activity-filter select': () => this.applyForm(),
      'change [data-usage="period"]': () => void this.loadUsage(),
      'change [data-usage="by"]': () => this.showUsage(),
      'click [data-action="details"]': (_e, target) => this.details(Number(target.dataset.id)),
      'click [data-action="export"]': () => downloadText(`llamaproxy-activity-${fileStamp()}.csv`, activityCsv(this.records), 'text/csv;charset=utf-8'),
    };
  }

  protected override onMount(): void {
    void this.reload();
    void this.loadUsage();
    this.own(watchPermissions(this.props.store, this.el));
    if (can(this.props.store.get('identity'), 'capture:get')) {
      void this.loadCapture();
    }
    this.own(
      this.props.store.subscribe('activityNew', (pushed) => {
        const fresh = (pushed ?? []).filter((r) => matchesActivityFilter(r, this.filter));
        if (fresh.length === 0) {
          return;
        }
        if (!this.loaded) {
          // Kept until the load answers: it may have been read before these were stored.
          this.pending = mergeNewer(this.pending, fresh);
          return;
        }
        this.records = mergeNewer(this.records, fresh);
        this.show();
        this.usageSoon();
      }),
    );
    this.own(
      this.props.store.subscribe('connection', (now, before) => {
        if (now.status === 'connected' && before.status !== 'connected') {
          void this.refresh();
        }
      }),
    );
  }

  private applyForm(): void {
    const form = this.el.querySelector('.activity-filter') as HTMLFormElement;
    const value = (name: string): string => valueOf(form.elements.namedItem(name) as Element).trim();
    const status = value('status');
    this.filter = {
      ...(value('model') === '' ? {} : { model: value('model') }),
      ...(value('keyId') === '' ? {} : { keyId: value('keyId') }),
      ...(status === 'ok' || status === 'error' ? { status } : {}),
    };
    void this.reload();
  }

  private async reload(): Promise<void> {
    const token = ++this.token;
    this.loaded = false;
    this.pending = [];
    try {
      const { records } = await this.props.store.request('activity:query', { ...this.filter, limit: PAGE });
      if (token === this.token && !this.isDestroyed) {
        this.records = mergeNewer(records, this.pending).sort((a, b) => b.id - a.id);
        this.pending = [];
        this.loaded = true;
        this.show();
      }
    } catch (error) {
      this.show(`Loading the activity: ${errorMessage(error)}`);
    }
  }

  /** After a reconnect: asks only for what is newer than the newest row shown (pushes may have been missed). */
  private async refresh(): Promise<void> {
    const token = this.token;
    const newest = this.records[0]?.id ?? 0;
    try {
      const { records } = await this.props.store.request('activity:query', { ...this.filter, afterId: newest, limit: PAGE });
      if (token === this.token && !this.isDestroyed && records.length > 0) {
        this.records = mergeNewer(this.records, records);
        this.show();
      }
    } catch {
      // The connection indicator tells about a lost socket; the next reconnect asks again.
    }
  }

  /** Reloads the usage totals after new requests, at most once per USAGE_REFRESH_MS. */
  private usageSoon(): void {
    if (this.usageTimer !== null) {
      return;
    }
    this.usageTimer = setTimeout(() => {
      this.usageTimer = null;
      void this.loadUsage();
    }, USAGE_REFRESH_MS);
  }

  /** Totals of the chosen period (the last 14 days, 12 weeks or 12 months). */
  private async loadUsage(): Promise<void> {
    const period = valueOf(this.el.querySelector('[data-usage="period"]') as Element) as UsagePeriod;
    try {
      const { rows } = await this.props.store.request('activity:usage', { from: usageFrom(period, Date.now()), period });
      if (!this.isDestroyed) {
        this.usage = rows;
        this.showUsage();
      }
    } catch (error) {
      setText(this.el.querySelector('.problem') as HTMLElement, `Loading the usage: ${errorMessage(error)}`);
    }
  }

  private showUsage(): void {
    const by = valueOf(this.el.querySelector('[data-usage="by"]') as Element) as UsageDimension;
    const data = usageChart(this.usage, by);
    this.chart.set(data);
    this.chart.el.hidden = data.periods.length === 0;
    (this.el.querySelector('.usage-empty') as HTMLElement).hidden = data.periods.length > 0;
    (this.el.querySelector('.usage-table') as HTMLElement).hidden = data.periods.length === 0;
    const cells = (u: UsageRow) => [u.day, usageLabel(u, 'key'), usageLabel(u, 'user'), usageLabel(u, 'model'), formatInt(u.requests), formatInt(u.errors), formatInt(u.promptTokens), formatInt(u.completionTokens)];
    replaceChildren(this.el.querySelector('.usage-body') as HTMLElement, this.usage.map((u) => h('tr', null, cells(u).map((c) => h('td', null, c)))));
  }

  private async loadCapture(): Promise<void> {
    try {
      const { settings, stored } = await this.props.store.request('capture:get', {});
      this.showCaptureSettings(settings, stored);
    } catch (error) {
      setText(this.el.querySelector('.capture-state') as HTMLElement, `Loading the capture settings: ${errorMessage(error)}`);
    }
  }

  private showCaptureSettings(settings: CaptureSettings, stored: number): void {
    const form = this.el.querySelector('.capture-form') as HTMLFormElement;
    (form.elements.namedItem('enabled') as HTMLSelectElement).value = String(settings.enabled);
    (form.elements.namedItem('maxRequests') as HTMLInputElement).value = String(settings.maxRequests);
    (form.elements.namedItem('maxKib') as HTMLInputElement).value = String(Math.round(settings.maxBytes / 1024));
    setText(this.el.querySelector('.capture-state') as HTMLElement, settings.enabled ? `On: ${stored} kept` : 'Off');
  }

  private async saveCapture(): Promise<void> {
    const form = this.el.querySelector('.capture-form') as HTMLFormElement;
    const value = (name: string): string => valueOf(form.elements.namedItem(name) as Element);
    const enabled = value('enabled') === 'true';
    if (!enabled && !window.confirm('Turn capture off? The prompts and outputs kept so far are deleted.')) {
      return;
    }
    try {
      const { settings, stored } = await this.props.store.request('capture:update', {
        enabled,
        maxRequests: Math.round(Number(value('maxRequests'))),
        maxBytes: Math.round(Number(value('maxKib'))) * 1024,
      });
      this.showCaptureSettings(settings, stored);
      this.props.toasts.success(settings.enabled ? 'Capture is on' : 'Capture is off; what was kept is deleted');
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
  }

  /** The shown request's captured prompt and output, asked for on request (each view is audited). */
  private async showCapture(): Promise<void> {
    const id = this.shownId;
    const box = this.el.querySelector('.captured') as HTMLElement;
    const problem = this.el.querySelector('.capture-problem') as HTMLElement;
    if (id === null) {
      return;
    }
    try {
      const { capture } = await this.props.store.request('capture:view', { activityId: id });
      if (id !== this.shownId) {
        return;
      }
      box.hidden = capture === null;
      setText(problem, capture === null ? 'Not captured: capture was off then, or the request is no longer among the most recent ones kept.' : '');
      if (capture !== null) {
        setText(this.el.querySelector('.captured-request') as HTMLElement, capture.request + (capture.requestTruncated ? '\n… (cut)' : ''));
        setText(this.el.querySelector('.captured-response') as HTMLElement, capture.response + (capture.responseTruncated ? '\n… (cut)' : ''));
      }
    } catch (error) {
      setText(problem, errorMessage(error));
    }
  }

  private details(id: number): void {
    this.shownId = id;
    (this.el.querySelector('.captured') as HTMLElement).hidden = true;
    setText(this.el.querySelector('.capture-problem') as HTMLElement, '');
    const r = this.records.find((x) => x.id === id);
    const card = this.el.querySelector('.details') as HTMLElement;
    if (r === undefined) {
      card.hidden = true;
      return;
    }
    const items: [string, string][] = [
      ['Time', formatDateTime(r.ts)], ['Key', r.keyName === null ? '—' : `${r.keyName} (${r.keyId ?? ''})`], ['User', r.username ?? '—'],
      ['Model', r.model ?? '—'], ['Endpoint', r.endpoint], ['Streamed', r.stream ? 'yes' : 'no'], ['Status', String(r.status)],
      ['Prompt tokens', formatInt(r.promptTokens)], ['Cached tokens', formatInt(r.cachedTokens)], ['Generated tokens', formatInt(r.completionTokens)],
      ['Time to first token', ms(r.ttftMs)], ['Speed', formatRate(r.tokensPerSec)], ['Duration', ms(r.durationMs)],
      ['Client address', r.address ?? '—'], ['Error', r.error ?? '—'],
    ];
    replaceChildren(card.querySelector('dl') as HTMLElement, items.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
    card.hidden = false;
  }

  private show(problem = ''): void {
    this.rows.reconcile(this.records);
    const empty = this.el.querySelector('.empty') as HTMLElement;
    empty.hidden = this.records.length > 0;
    setText(empty, Object.keys(this.filter).length > 0 ? 'No request matches these filters.' : 'No request yet. Requests to /v1 appear here as they happen.');
    setText(this.el.querySelector('.problem') as HTMLElement, problem);
    setText(this.el.querySelector('.count') as HTMLElement, `${this.records.length} shown`);
    (this.el.querySelector('[data-action="export"]') as HTMLButtonElement).disabled = this.records.length === 0;
  }
}
