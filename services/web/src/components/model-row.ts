import type { ModelView } from '@llamaproxy/shared';
import { Component } from '../core/component.js';
import { h, replaceChildren, setText } from '../core/dom.js';
import { formatBytes, formatCount, formatInt, type MemoryUnits } from '../lib/format.js';
import { modelFacts } from '../lib/model-facts.js';
import { ProgressBar } from './progress-bar.js';
import { setBadge } from './status-badge.js';

export interface ModelRowProps {
  model: ModelView;
  units: MemoryUnits;
  /** A load or unload was requested and has not finished. */
  pending: boolean;
  /** What the signed-in role may do (the toggle is hidden when it may not). */
  may: { load: boolean; unload: boolean };
  /**
   * The model's node is not heard from (NodeView.online false): its state may be stale. Where
   * issue 17's per-node/per-model "stale" flag (scale-sup) arrives in the model data, it belongs
   * here too: the page computes this prop.
   */
  stale: boolean;
}

/** Height of one row of the models table, px: the windowed list relies on it (pages.css sets it). */
export const MODEL_ROW_HEIGHT = 72;

/**
 * One line of the models table. Buttons carry `data-action` and the row its `data-id`; the page
 * handles the clicks (delegation), so rows stay plain views. An update with the same model object
 * and the same settings does nothing (the page updates every visible row when one changes).
 */
export class ModelRow extends Component<ModelRowProps> {
  private progress!: ProgressBar;

  override update(props: ModelRowProps): void {
    const p = this.props;
    if (p.model === props.model && p.units === props.units && p.pending === props.pending && p.may.load === props.may.load && p.may.unload === props.may.unload && p.stale === props.stale) {
      return;
    }
    super.update(props);
  }

  protected override render(): HTMLElement {
    const status = h('td', { class: 'status' }, h('span', { class: 'badge' }));
    const row = h(
      'tr',
      { class: 'model-row', 'data-id': this.props.model.id },
      h('td', { class: 'model-name' }, h('div', { class: 'id' }), h('div', { class: 'sub muted' }), h('div', { class: 'companions muted' })),
      h('td', { class: 'num size' }),
      h('td', { class: 'arch hide-narrow' }),
      h('td', { class: 'quant' }),
      h('td', { class: 'num params hide-narrow' }),
      h('td', { class: 'num ctx hide-narrow' }),
      status,
      h(
        'td',
        { class: 'row-actions' },
        h('button', { class: 'button', 'data-action': 'toggle' }),
        h('button', { class: 'button ghost', 'data-action': 'settings', 'aria-label': `Settings of ${this.props.model.id}` }, 'Settings'),
      ),
    );
    this.progress = this.adopt(new ProgressBar({ value: null, label: 'Loading' }), status);
    status.append(h('div', { class: 'reason' }));
    return row;
  }

  protected override patch(): void {
    const { model: m, units, pending, may } = this.props;
    const q = (s: string): HTMLElement => this.el.querySelector(s) as HTMLElement;
    setText(q('.id'), m.id);
    setText(q('.sub'), [m.name !== m.id ? m.name : null, m.layout !== 'single' ? m.layout : null, m.path].filter(Boolean).join(' · '));
    // Split set, projector and drafter: what the router loads with it.
    const facts = modelFacts(m);
    q('.companions').hidden = facts.length === 0;
    setText(q('.companions'), facts.join(' · '));
    setText(q('.size'), formatBytes(m.sizeBytes, units));
    setText(q('.arch'), m.architecture ?? '—');
    setText(q('.quant'), m.quantization ?? '—');
    setText(q('.params'), formatCount(m.parameterCount));
    setText(q('.ctx'), formatInt(m.contextLength));

    this.el.classList.toggle('stale', this.props.stale);
    this.el.title = this.props.stale ? `${m.nodeId} is not heard from: this state may be stale` : '';
    const status = m.valid ? m.state.status : 'invalid';
    setBadge(q('.badge'), status);
    const loading = m.state.status === 'loading';
    this.progress.el.hidden = !loading;
    if (loading) {
      this.progress.update({ value: m.state.progress, label: m.state.stage ?? 'Loading' });
    }
    this.showReason(q('.reason'), m);

    const toggle = q('[data-action="toggle"]') as HTMLButtonElement;
    const unload = m.state.status === 'loaded' || m.state.status === 'sleeping' || loading;
    setText(toggle, pending ? 'Working…' : unload ? 'Unload' : 'Load');
    toggle.dataset.intent = unload ? 'unload' : 'load';
    toggle.disabled = pending || (!unload && !m.valid);
    toggle.setAttribute('aria-label', `${unload ? 'Unload' : 'Load'} ${m.id}`);
    toggle.hidden = !(unload ? may.unload : may.load);
  }

  private showReason(box: HTMLElement, m: ModelView): void {
    if (!m.valid) {
      replaceChildren(box, h('span', { class: 'problem' }, m.invalidReason ?? 'not a usable GGUF file'));
    } else if (m.state.status === 'error' && m.state.error !== null) {
      const e = m.state.error;
      replaceChildren(
        box,
        h(
          'details',
          null,
          h('summary', { class: 'problem' }, e.message),
          // Opened, it floats over the rows below: every row keeps MODEL_ROW_HEIGHT (windowed list).
          h(
            'div',
            { class: 'reason-detail' },
            e.exitCode === null ? null : h('div', { class: 'muted' }, `exit code ${e.exitCode}`),
            e.logTail.length > 0 ? h('pre', { class: 'log-tail' }, e.logTail.join('\n')) : null,
          ),
        ),
      );
    } else if (m.state.note !== null && m.state.note !== undefined) {
      // Not an error of this run (e.g. an exit code from before llama-server last started).
      replaceChildren(box, h('span', { class: 'muted note' }, m.state.note));
    } else {
      box.replaceChildren();
    }
  }
}
