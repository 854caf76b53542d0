import { Component, type EventMap } from '../core/component.js';
import type { Notifier } from '../core/context.js';
import { h } from '../core/dom.js';

type ToastKind = 'info' | 'success' | 'error';

const DURATION_MS: Record<ToastKind, number> = { info: 4000, success: 4000, error: 8000 };

/** Toasts in a live region; a repeated message bumps a counter instead of stacking. */
export class Toaster extends Component implements Notifier {
  private readonly visible = new Map<string, { el: HTMLElement; count: number; timer: ReturnType<typeof setTimeout> }>();

  protected override render(): HTMLElement {
    return h('div', { class: 'toasts', 'aria-live': 'polite' });
  }

  protected override events(): EventMap {
    return { 'click [data-action="dismiss"]': (_e, button) => this.dismiss(button.dataset.key ?? '') };
  }

  info(message: string): void {
    this.show(message, 'info');
  }

  success(message: string): void {
    this.show(message, 'success');
  }

  error(message: string): void {
    this.show(message, 'error');
  }

  show(message: string, kind: ToastKind): void {
    const key = `${kind}:${message}`;
    const existing = this.visible.get(key);
    if (existing) {
      existing.count++;
      clearTimeout(existing.timer);
      existing.timer = setTimeout(() => this.dismiss(key), DURATION_MS[kind]);
      existing.el.dataset.count = String(existing.count);
      return;
    }
    const el = h(
      'div',
      { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
      h('span', { class: 'toast-message' }, message),
      h('button', { class: 'icon-button', 'data-action': 'dismiss', 'data-key': key, 'aria-label': 'Dismiss' }, '×'),
    );
    this.el.append(el);
    this.visible.set(key, { el, count: 1, timer: setTimeout(() => this.dismiss(key), DURATION_MS[kind]) });
  }

  private dismiss(key: string): void {
    const toast = this.visible.get(key);
    if (toast) {
      clearTimeout(toast.timer);
      toast.el.remove();
      this.visible.delete(key);
    }
  }
}
