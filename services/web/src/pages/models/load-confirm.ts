import type { ModelView } from '@llamaproxy/shared';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h } from '../../core/dom.js';
import { loadPreview, loadPreviewText, type LoadPreview } from '../../lib/load-preview.js';

interface LoadConfirmProps {
  modelId: string;
  preview: Exclude<LoadPreview, { kind: 'unknown' | 'fits' }>;
  text: string;
  onClose(load: boolean): void;
}

/** Tells, before a load, which models it would unload (or that it cannot fit), and asks to go on. */
class LoadConfirmDialog extends Component<LoadConfirmProps> {
  private answered = false;

  protected override render(): HTMLElement {
    const { modelId, preview, text } = this.props;
    const go = preview.kind === 'evicts' ? `Load and unload ${preview.evict.length === 1 ? preview.evict[0] : `${preview.evict.length} models`}` : 'Try anyway';
    const dialog = h(
      'dialog',
      { class: 'dialog load-preview', 'aria-labelledby': 'load-preview-title', 'data-kind': preview.kind },
      h(
        'form',
        { class: 'stack', method: 'dialog' },
        h('h2', { id: 'load-preview-title' }, `Load ${modelId}?`),
        h('p', { class: 'load-preview-text' }, text),
        preview.kind === 'evicts' ? h('ul', { class: 'load-preview-evict' }, preview.evict.map((id) => h('li', { 'data-model': id }, id))) : null,
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: `button ${preview.kind === 'evicts' ? 'primary' : ''}`, 'data-action': 'load' }, go),
          h('button', { type: 'button', class: 'button', 'data-action': 'cancel' }, 'Cancel'),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      this.answer(false);
      this.destroy();
    });
    return dialog;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="load"]': () => {
        this.answer(true);
        (this.el as HTMLDialogElement).close();
      },
      'click [data-action="cancel"]': () => (this.el as HTMLDialogElement).close(),
    };
  }

  open(): void {
    document.body.append(this.el);
    (this.el as HTMLDialogElement).showModal();
    (this.el.querySelector('[data-action="cancel"]') as HTMLElement).focus();
  }

  private answer(load: boolean): void {
    if (!this.answered) {
      this.answered = true;
      this.props.onClose(load);
    }
  }
}

/**
 * The Load button's question before it acts (placement, issue #14): resolves true at once when
 * the model fits (or nothing is known to tell), else after the user confirmed the evictions the
 * load would make, or chose to try a load that cannot fit.
 */
export function confirmLoad(ctx: AppContext, model: Pick<ModelView, 'id' | 'nodeId'> & Partial<Pick<ModelView, 'sizeBytes'>>): Promise<boolean> {
  const preview = loadPreview(ctx.store.get('memory'), model.nodeId, model.id, model.sizeBytes ?? null);
  const text = loadPreviewText(model.id, preview);
  if (text === null || preview.kind === 'unknown' || preview.kind === 'fits') {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => new LoadConfirmDialog({ modelId: model.id, preview, text, onClose: resolve }).open());
}
