import { Component } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h, setText } from '../../core/dom.js';
import { KeyedList } from '../../core/keyed-list.js';
import { formatBytes, type MemoryUnits } from '../../lib/format.js';
import { deviceBytesText, footprintRows, type FootprintRow } from '../../lib/footprints.js';

interface RowProps {
  row: FootprintRow;
  units: MemoryUnits;
}

class FootprintLine extends Component<RowProps> {
  protected override render(): HTMLElement {
    return h('tr', null, h('td', { class: 'model' }), h('td', { class: 'estimated num' }), h('td', { class: 'measured num' }), h('td', { class: 'ratio num' }), h('td', { class: 'settings muted hide-narrow' }));
  }

  protected override patch(): void {
    const { row, units } = this.props;
    const fmt = (n: number): string => formatBytes(n, units);
    this.el.dataset.model = row.modelId;
    const cell = (name: string): HTMLElement => this.el.querySelector(`.${name}`) as HTMLElement;
    setText(cell('model'), row.modelId);
    setText(cell('estimated'), deviceBytesText(row.estimated, fmt));
    setText(cell('measured'), row.measured === null ? 'not loaded yet' : deviceBytesText(row.measured, fmt));
    setText(cell('ratio'), row.ratio === null ? '—' : `${Math.round(row.ratio * 100)} %`);
    setText(cell('settings'), row.settingsKey);
    cell('measured').title = row.measuredAt === null ? '' : `measured ${new Date(row.measuredAt).toLocaleString()}`;
  }
}

/**
 * Each model's footprint as placement counts it (issue #14): the estimate from its GGUF header
 * beside the measurement after its last load, for the settings it starts with.
 */
export class FootprintsCard extends Component<AppContext> {
  private rows!: KeyedList<RowProps>;

  protected override render(): HTMLElement {
    const body = h('tbody');
    this.rows = new KeyedList(body, (p) => p.row.key, (p) => new FootprintLine(p));
    this.own(() => this.rows.clear());
    return h(
      'details',
      { class: 'card footprints' },
      h('summary', null, 'Memory footprints: estimated and measured'),
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'table' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Model'), h('th', { scope: 'col', class: 'num' }, 'Estimated'), h('th', { scope: 'col', class: 'num' }, 'Measured'), h('th', { scope: 'col', class: 'num' }, 'Measured ÷ estimated'), h('th', { scope: 'col', class: 'hide-narrow' }, 'Settings'))),
          body,
        ),
      ),
    );
  }

  protected override onMount(): void {
    const { store } = this.props;
    this.own(store.subscribe('memory', () => this.show(), true));
    this.own(store.subscribe('settings', () => this.show()));
  }

  private show(): void {
    const { store } = this.props;
    const units = store.get('settings')?.units.memory ?? 'binary';
    const rows = footprintRows(store.get('memory'));
    this.el.hidden = rows.length === 0;
    this.rows.reconcile(rows.map((row) => ({ row, units })));
  }
}
