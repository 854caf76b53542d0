import type { CommandRegistry } from '../core/commands.js';
import { Component, type EventMap } from '../core/component.js';
import { h } from '../core/dom.js';

/** "?": every keyboard shortcut in a modal dialog (native <dialog>: focus trap and Esc for free). */
export class ShortcutsDialog extends Component<CommandRegistry> {
  protected override render(): HTMLElement {
    return h('dialog', { class: 'dialog', 'aria-labelledby': 'shortcuts-title' });
  }

  protected override events(): EventMap {
    return { 'click [data-action="close"]': () => (this.el as HTMLDialogElement).close() };
  }

  open(): void {
    const rows = this.props
      .all()
      .filter((c) => c.keys !== undefined)
      .map((c) => h('tr', null, h('td', null, h('kbd', null, (c.keys ?? '').replace('mod+', 'Ctrl+'))), h('td', null, c.title)));
    this.el.replaceChildren(
      h('h2', { id: 'shortcuts-title' }, 'Keyboard shortcuts'),
      h('table', { class: 'table compact' }, h('tbody', null, rows)),
      h('div', { class: 'actions' }, h('button', { class: 'button', 'data-action': 'close', autofocus: true }, 'Close')),
    );
    (this.el as HTMLDialogElement).showModal();
  }
}
