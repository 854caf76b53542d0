import type { ModelView } from '@llamaproxy/shared';
import { MODEL_ROW_HEIGHT, ModelRow, type ModelRowProps } from '../components/model-row.js';
import { runJob } from '../core/actions.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h, replaceChildren, setText, valueOf } from '../core/dom.js';
import { WindowedList } from '../core/windowed-list.js';
import { can, needs, watchPermissions } from '../core/permissions.js';
import { skippedLine, skippedSummary } from '../lib/model-facts.js';
import { ModelIndex } from '../lib/model-index.js';
import { MODEL_FILTERS, type ModelFilter, type ModelQuery, type ModelSortKey } from '../lib/model-list.js';
import { DownloadsPanel } from './get-models/downloads-panel.js';
import { confirmLoad, mountPlacement } from './models/placement-mount.js';

/** How long the search waits after the last keystroke before it filters, ms. */
export const SEARCH_DEBOUNCE_MS = 150;

const COLUMNS: { label: string; sort: ModelSortKey | null; className?: string }[] = [
  { label: 'Model', sort: 'name' },
  { label: 'Size', sort: 'size', className: 'num' },
  { label: 'Architecture', sort: null, className: 'hide-narrow' },
  { label: 'Quant', sort: 'quantization' },
  { label: 'Params', sort: 'params', className: 'num hide-narrow' },
  { label: 'Context', sort: 'context', className: 'num hide-narrow' },
  { label: 'Status', sort: 'status' },
  { label: 'Actions', sort: null },
];

/**
 * Every model in the models directory: search, filter, sort, load/unload, per-model settings.
 * Built for thousands of models: only the rows in view are in the DOM (a windowed list of
 * fixed-height rows), a state change updates its row in place, and the search filters an index
 * after the typing pauses.
 */
export class ModelsPage extends Component<AppContext> {
  private query: ModelQuery = { text: '', filter: 'all', sort: 'name', direction: 'asc' };
  private readonly pending = new Set<string>();
  private readonly index = new ModelIndex();
  private rows!: WindowedList<ModelRowProps>;
  private searchTimer: ReturnType<typeof setTimeout> | null = null;

  protected override render(): HTMLElement {
    const body = h('tbody', { class: 'rows' });
    const spacer = (): HTMLElement => h('tr', { class: 'spacer', 'aria-hidden': 'true', hidden: true }, h('td', { colspan: String(COLUMNS.length) }));
    const spacerTop = spacer();
    const spacerBottom = spacer();
    const head = h(
      'thead',
      null,
      h(
        'tr',
        null,
        COLUMNS.map((c) =>
          h('th', { class: c.className, 'data-sort': c.sort, scope: 'col' }, c.sort === null ? c.label : h('button', { 'data-action': 'sort', 'data-sort': c.sort }, c.label)),
        ),
      ),
    );
    const scroller = h(
      'div',
      { class: 'card table-wrap models-scroll' },
      h('table', { class: 'table models-table' }, head, h('tbody', { class: 'spacer-top' }, spacerTop), body, h('tbody', { class: 'spacer-bottom' }, spacerBottom)),
      h('p', { class: 'empty muted' }),
    );
    const page = h(
      'div',
      { class: 'page', 'data-page': 'models' },
      h(
        'div',
        { class: 'toolbar card' },
        h(
          'div',
          { class: 'actions' },
          h('input', { type: 'search', class: 'search', placeholder: 'Search models  ( / )', 'aria-label': 'Search models', 'aria-keyshortcuts': '/' }),
          h('select', { class: 'filter', 'aria-label': 'Show' }, MODEL_FILTERS.map((f) => h('option', { value: f }, f === 'all' ? 'All models' : f))),
          h('span', { class: 'count muted', 'aria-live': 'polite' }),
        ),
        h('button', { class: 'button', 'data-action': 'rescan', ...needs('models:rescan') }, 'Rescan directory'),
      ),
      scroller,
      // Files the catalogue scan passed over (dangling links, ...), so a missing model is explained.
      h('details', { class: 'card skipped', hidden: true }, h('summary', { class: 'muted' }), h('ul', { class: 'skipped-list' })),
    );
    this.rows = new WindowedList<ModelRowProps>({
      scroller,
      container: body,
      spacerTop,
      spacerBottom,
      rowHeight: MODEL_ROW_HEIGHT,
      offset: () => head.offsetHeight,
      keyOf: (p) => `${p.model.nodeId}/${p.model.id}`,
      create: (p) => new ModelRow(p),
    });
    this.own(() => this.rows.destroy());
    this.own(() => this.cancelSearch());
    return page;
  }

  protected override events(): EventMap {
    return {
      'input .search': (_e, input) => this.scheduleSearch(valueOf(input)),
      'change .filter': (_e, select) => this.setQuery({ filter: valueOf(select) as ModelFilter }),
      'click [data-action="sort"]': (_e, button) => {
        const sort = button.dataset.sort as ModelSortKey;
        const direction = this.query.sort === sort && this.query.direction === 'asc' ? 'desc' : 'asc';
        this.setQuery({ sort, direction });
      },
      'click [data-action="toggle"]': (_e, button) => void this.toggle(this.modelOf(button), button.dataset.intent === 'unload'),
      'click [data-action="settings"]': (_e, button) => void this.openSettings(this.modelOf(button)),
      'click [data-action="rescan"]': () => this.rescan(),
    };
  }

  protected override onMount(): void {
    const { store, commands } = this.props;
    this.own(store.subscribe('models', () => this.show(), true));
    this.own(store.subscribe('skipped', () => this.showSkipped(), true));
    this.own(store.subscribe('settings', () => this.show()));
    this.own(store.subscribe('identity', () => this.show()));
    this.own(store.subscribe('nodes', () => this.show()));
    this.own(watchPermissions(store, this.el));
    this.own(mountPlacement(this.props, this.el));
    this.adopt(new DownloadsPanel({ ctx: this.props, runningOnly: true }), this.el, this.el.querySelector('.table-wrap'));
    this.own(commands.add([{ id: 'models:search', title: 'Search models', group: 'Models', keys: '/', run: () => (this.el.querySelector('.search') as HTMLInputElement).focus() }]));
    this.own(
      commands.add(() =>
        can(store.get('identity'), 'models:rescan') ? [{ id: 'models:rescan-key', title: 'Rescan the models directory', group: 'Models', keys: 'r', run: () => this.rescan() }] : [],
      ),
    );
  }

  /** Filters once the typing pauses: a keystroke itself costs nothing. */
  private scheduleSearch(text: string): void {
    this.cancelSearch();
    this.searchTimer = setTimeout(() => {
      this.searchTimer = null;
      if (text !== this.query.text) {
        this.setQuery({ text });
      }
    }, SEARCH_DEBOUNCE_MS);
  }

  private cancelSearch(): void {
    if (this.searchTimer !== null) {
      clearTimeout(this.searchTimer);
      this.searchTimer = null;
    }
  }

  private setQuery(change: Partial<ModelQuery>): void {
    this.query = { ...this.query, ...change };
    // A new query starts at its first match.
    (this.el.querySelector('.models-scroll') as HTMLElement).scrollTop = 0;
    this.show();
  }

  private show(): void {
    const { store } = this.props;
    const all = store.get('models');
    const units = store.get('settings')?.units.memory ?? 'binary';
    this.index.setModels(all);
    const shown = this.index.query(this.query);
    const identity = store.get('identity');
    const may = { load: can(identity, 'models:load'), unload: can(identity, 'models:unload') };
    // Rows of a node that is not heard from show that their state may be stale.
    const offline = new Set(store.get('nodes').filter((n) => !n.online).map((n) => n.nodeId));
    this.rows.setItems(shown.map((model) => ({ model, units, pending: this.pending.has(model.id), may, stale: offline.has(model.nodeId) })));
    setText(this.el.querySelector('.count') as HTMLElement, `${shown.length} of ${all.length}`);
    const empty = this.el.querySelector('.empty') as HTMLElement;
    empty.hidden = shown.length > 0;
    setText(empty, all.length === 0 ? (store.get('ready') ? 'No model found in the models directory.' : 'Loading…') : 'No model matches.');
    for (const th of this.el.querySelectorAll<HTMLElement>('th[data-sort]')) {
      if (th.dataset.sort === this.query.sort) {
        th.setAttribute('aria-sort', this.query.direction === 'asc' ? 'ascending' : 'descending');
      } else {
        th.removeAttribute('aria-sort');
      }
    }
  }

  private showSkipped(): void {
    const skipped = this.props.store.get('skipped');
    const details = this.el.querySelector('details.skipped') as HTMLDetailsElement;
    const summary = skippedSummary(skipped);
    details.hidden = summary === null;
    setText(details.querySelector('summary') as HTMLElement, summary ?? '');
    const several = new Set(skipped.map((s) => s.nodeId)).size > 1;
    replaceChildren(details.querySelector('ul') as HTMLElement, skipped.map((entry) => h('li', {}, skippedLine(entry, several))));
  }

  private modelOf(el: HTMLElement): ModelView | undefined {
    const id = el.closest('tr')?.dataset.id;
    return this.props.store.get('models').find((m) => m.id === id);
  }

  private async toggle(model: ModelView | undefined, unload: boolean): Promise<void> {
    if (model === undefined || this.pending.has(model.id) || (!unload && !(await confirmLoad(this.props, model)))) {
      return;
    }
    const { ctx, id } = { ctx: this.props, id: model.id };
    this.pending.add(id);
    this.show();
    const send = unload ? () => ctx.store.request('models:unload', { modelId: id }) : () => ctx.store.request('models:load', { modelId: id });
    void runJob(ctx, `${unload ? 'Unload' : 'Load'} ${id}`, send).finally(() => {
      this.pending.delete(id);
      if (!this.isDestroyed) {
        this.show();
      }
    });
  }

  private rescan(): void {
    const ctx = this.props;
    void runJob(ctx, 'Rescan', () => ctx.store.request('models:rescan', {}));
  }

  private async openSettings(model: ModelView | undefined): Promise<void> {
    if (model === undefined) {
      return;
    }
    // Loaded on first use: the dialog needs the shared contracts (zod), which the list does not,
    // and evaluating them would freeze the page's first render.
    const [{ ModelSettingsDialog }, { loadArgIndex }] = await Promise.all([import('../components/model-settings-dialog.js'), import('../lib/catalogue.js')]);
    const args = await loadArgIndex(this.props.store);
    if (!this.isDestroyed) {
      new ModelSettingsDialog({ ctx: this.props, model, args }).open();
    }
  }
}
