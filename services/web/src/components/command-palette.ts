import type { Command, CommandRegistry } from '../core/commands.js';
import { Component, type EventMap } from '../core/component.js';
import { h } from '../core/dom.js';
import { fuzzyFilter } from '../lib/fuzzy.js';

const MAX_ITEMS = 50;

/** Ctrl+K: a filterable list of every command, driven by the arrow keys and Enter. */
export class CommandPalette extends Component<CommandRegistry> {
  private input!: HTMLInputElement;
  private list!: HTMLUListElement;
  private matches: Command[] = [];
  private active = 0;
  private returnFocus: HTMLElement | null = null;

  protected override render(): HTMLElement {
    this.input = h('input', {
      class: 'palette-input',
      type: 'text',
      role: 'combobox',
      'aria-expanded': 'true',
      'aria-controls': 'palette-list',
      'aria-autocomplete': 'list',
      'aria-label': 'Command',
      placeholder: 'Type a command…',
      autocomplete: 'off',
      spellcheck: 'false',
    });
    this.list = h('ul', { id: 'palette-list', class: 'palette-list', role: 'listbox', 'aria-label': 'Commands' });
    return h(
      'div',
      { class: 'palette-backdrop', hidden: true, 'data-action': 'backdrop' },
      h('div', { class: 'palette', role: 'dialog', 'aria-modal': 'true', 'aria-label': 'Command palette' }, this.input, this.list),
    );
  }

  protected override events(): EventMap {
    return {
      'input .palette-input': () => this.filter(),
      'keydown .palette-input': (e) => this.onKey(e as KeyboardEvent),
      'click [data-index]': (_e, item) => this.runAt(Number(item.dataset.index)),
      'mousedown [data-action="backdrop"]': (e, backdrop) => {
        if (e.target === backdrop) {
          this.close();
        }
      },
    };
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  open(): void {
    if (this.isOpen) {
      return;
    }
    this.returnFocus = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    this.el.hidden = false;
    this.input.value = '';
    this.filter();
    this.input.focus();
  }

  close(): void {
    this.el.hidden = true;
    this.returnFocus?.focus();
  }

  private filter(): void {
    this.matches = fuzzyFilter(this.props.all(), this.input.value, (c) => c.title, (c) => c.group).slice(0, MAX_ITEMS);
    this.active = 0;
    this.list.replaceChildren(
      ...this.matches.map((c, i) =>
        h(
          'li',
          { id: `palette-item-${i}`, role: 'option', class: 'palette-item', 'data-index': i },
          h('span', { class: 'palette-group' }, c.group),
          h('span', { class: 'palette-title' }, c.title),
          c.keys ? h('kbd', null, c.keys.replace('mod+', 'Ctrl+')) : null,
        ),
      ),
    );
    if (this.matches.length === 0) {
      this.list.append(h('li', { class: 'palette-empty muted' }, 'No matching command'));
    }
    this.highlight();
  }

  private highlight(): void {
    this.list.querySelectorAll('[aria-selected]').forEach((el) => el.removeAttribute('aria-selected'));
    const item = this.list.querySelector(`#palette-item-${this.active}`);
    item?.setAttribute('aria-selected', 'true');
    item?.scrollIntoView?.({ block: 'nearest' });
    this.input.setAttribute('aria-activedescendant', item ? item.id : '');
  }

  private onKey(e: KeyboardEvent): void {
    const n = this.matches.length;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      if (n > 0) {
        this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
        this.highlight();
      }
    } else if (e.key === 'Enter') {
      e.preventDefault();
      this.runAt(this.active);
    } else if (e.key === 'Escape') {
      e.preventDefault();
      this.close();
    } else if (e.key === 'Tab') {
      e.preventDefault();
    }
  }

  private runAt(index: number): void {
    const command = this.matches[index];
    if (command) {
      this.el.hidden = true;
      command.run();
    }
  }
}
