import type { ModelInferenceSample, ModelView } from '@llamaproxy/shared';
import { Component } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import { formatBytes, formatPct, formatRate, type MemoryUnits } from '../lib/format.js';
import { ProgressBar } from './progress-bar.js';
import { setBadge } from './status-badge.js';

export interface LoadedModelProps {
  model: ModelView;
  inference: ModelInferenceSample | undefined;
  units: MemoryUnits;
}

/** A dashboard line for a loaded (or loading) model: weights size, KV cache, speed. */
export class LoadedModelRow extends Component<LoadedModelProps> {
  private progress!: ProgressBar;

  protected override render(): HTMLElement {
    const li = h(
      'li',
      { class: 'loaded-model' },
      h('span', { class: 'name' }),
      h('span', { class: 'badge' }),
      h('span', { class: 'memory muted' }),
      h('span', { class: 'rate' }),
    );
    this.progress = this.adopt(new ProgressBar({ value: null, label: 'Loading' }), li);
    return li;
  }

  protected override patch(): void {
    const { model, inference, units } = this.props;
    setText(this.el.querySelector('.name') as HTMLElement, model.id);
    setBadge(this.el.querySelector('.badge') as HTMLElement, model.state.status);
    const kv = inference?.kvCacheUsage ?? null;
    const memory = `${formatBytes(model.sizeBytes, units)} weights${kv === null ? '' : ` · KV ${formatPct(kv * 100, 0)}`}`;
    setText(this.el.querySelector('.memory') as HTMLElement, memory);
    setText(this.el.querySelector('.rate') as HTMLElement, inference ? formatRate(inference.genTokensPerSec) : '');
    const loading = model.state.status === 'loading';
    this.progress.el.hidden = !loading;
    if (loading) {
      this.progress.update({ value: model.state.progress, label: model.state.stage ?? 'Loading' });
    }
  }
}
