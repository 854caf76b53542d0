import { h } from '../core/dom.js';

/** Tone of a status word: drives the badge colour. */
const TONE: Record<string, string> = {
  running: 'ok',
  loaded: 'ok',
  completed: 'ok',
  starting: 'busy',
  stopping: 'busy',
  loading: 'busy',
  active: 'busy',
  queued: 'busy',
  progress: 'busy',
  sleeping: 'idle',
  stopped: 'idle',
  unloaded: 'idle',
  crashed: 'bad',
  failed: 'bad',
  error: 'bad',
  missing: 'bad',
  invalid: 'bad',
};

export function badge(status: string): HTMLSpanElement {
  const el = h('span', { class: 'badge' });
  setBadge(el, status);
  return el;
}

export function setBadge(el: HTMLElement, status: string): void {
  el.textContent = status;
  el.dataset.tone = TONE[status] ?? 'idle';
}
