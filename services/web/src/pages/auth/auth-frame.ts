import { h, type Child } from '../../core/dom.js';

/** The frame of the screens shown instead of the app (sign-in, setup, messages): brand, title, content. */
export function authFrame(pageId: string, title: string, ...children: Child[]): HTMLElement {
  const titleId = `auth-title-${pageId}`;
  return h(
    'main',
    { class: 'auth-screen', 'data-page': pageId },
    h(
      'section',
      { class: 'card auth-card', 'aria-labelledby': titleId },
      h('p', { class: 'brand' }, h('span', { 'aria-hidden': 'true' }, '🦙 '), 'Llama Proxy'),
      h('h1', { id: titleId }, title),
      ...children,
    ),
  );
}

/** A labelled input in the auth screens' forms. */
export function authField(label: string, input: HTMLInputElement, hint?: string): HTMLElement {
  const hintId = hint === undefined ? null : `${input.id}-hint`;
  if (hintId !== null) {
    input.setAttribute('aria-describedby', hintId);
  }
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hint === undefined ? null : h('span', { class: 'hint', id: hintId }, hint));
}
