import { Component, type EventMap } from '../core/component.js';
import { h, setText } from '../core/dom.js';
import { argHint, argValueChoices, presetEntryProblem, type ArgIndex } from '../lib/arg-check.js';

export interface PresetValuesEditorProps {
  values: Record<string, string>;
  args: ArgIndex | null;
  /** Custom entries may (and must) name their GGUF file with `model`. */
  allowModelKey: boolean;
  /** Keys edited elsewhere in the same form (e.g. dedicated inputs); hidden here. */
  hiddenKeys?: readonly string[];
  onChange?: () => void;
}

let nextId = 0;

/**
 * Rows of `key = value` for one preset section, each checked against the argument catalogue as
 * the user types. Inputs are created once per row and never overwritten while editing.
 */
export class PresetValuesEditor extends Component<PresetValuesEditorProps> {
  private readonly listId = `arg-keys-${++nextId}`;
  private rows!: HTMLUListElement;

  protected override render(): HTMLElement {
    this.rows = h('ul', { class: 'kv-rows plain-list' });
    const datalist = h('datalist', { id: this.listId }, (this.props.args?.keys ?? []).map((k) => h('option', { value: k })));
    const root = h('div', { class: 'kv-editor' }, datalist, this.rows, h('button', { type: 'button', class: 'button', 'data-action': 'add-row' }, '+ Add key'));
    const hidden = new Set(this.props.hiddenKeys ?? []);
    for (const [key, value] of Object.entries(this.props.values)) {
      if (!hidden.has(key)) {
        this.addRow(key, value, false);
      }
    }
    return root;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="add-row"]': () => this.addRow('', '', true),
      'click [data-action="remove-row"]': (_e, button) => {
        button.closest('li')?.remove();
        this.validate();
        this.props.onChange?.();
      },
      input: () => {
        this.validate();
        this.props.onChange?.();
      },
    };
  }

  protected override patch(): void {
    this.validate();
  }

  /** The rows as values (empty rows skipped). */
  values(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { key, value } of this.entries()) {
      if (key !== '') {
        out[key] = value;
      }
    }
    return out;
  }

  /** Problems as "key: reason"; empty when every row is fine. */
  validate(): string[] {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const row of this.rows.querySelectorAll<HTMLLIElement>('li')) {
      const { key, value } = readRow(row);
      let problem = key === '' && value === '' ? null : presetEntryProblem(key, value, this.props.args, this.props.allowModelKey);
      if (problem === null && seen.has(key)) {
        problem = 'this key appears twice';
      }
      seen.add(key);
      const keyInput = row.querySelector('.kv-key') as HTMLInputElement;
      keyInput.setAttribute('aria-invalid', String(problem !== null));
      setText(row.querySelector('.problem') as HTMLElement, problem ?? '');
      setText(row.querySelector('.hint') as HTMLElement, problem === null ? argHint(key, this.props.args) : '');
      offerChoices(row, argValueChoices(key, this.props.args));
      if (problem !== null) {
        problems.push(`${key || '(empty key)'}: ${problem}`);
      }
    }
    return problems;
  }

  private entries(): { key: string; value: string }[] {
    return [...this.rows.querySelectorAll<HTMLLIElement>('li')].map(readRow);
  }

  private addRow(key: string, value: string, focus: boolean): void {
    const keyInput = h('input', { class: 'kv-key', value: key, list: this.listId, 'aria-label': 'Key', placeholder: 'ctx-size', spellcheck: 'false', autocomplete: 'off' });
    const row = h(
      'li',
      { class: 'kv-row' },
      h(
        'div',
        { class: 'kv-inputs' },
        keyInput,
        h('span', { 'aria-hidden': 'true' }, '='),
        h('input', { class: 'kv-value', value, 'aria-label': 'Value', spellcheck: 'false', autocomplete: 'off' }),
        h('button', { type: 'button', class: 'icon-button', 'data-action': 'remove-row', 'aria-label': 'Remove key' }, '×'),
      ),
      h('div', { class: 'problem', role: 'alert' }),
      h('div', { class: 'hint muted' }),
    );
    this.rows.append(row);
    if (focus) {
      keyInput.focus();
    }
    this.validate();
  }
}

function readRow(row: HTMLLIElement): { key: string; value: string } {
  return {
    key: (row.querySelector('.kv-key') as HTMLInputElement).value.trim(),
    value: (row.querySelector('.kv-value') as HTMLInputElement).value.trim(),
  };
}

/** Offers the values the key accepts (the validator's own sets) through the value input's datalist. */
function offerChoices(row: HTMLLIElement, choices: string[]): void {
  const input = row.querySelector('.kv-value') as HTMLInputElement;
  let list = row.querySelector('datalist');
  if (choices.length === 0) {
    input.removeAttribute('list');
    list?.remove();
    return;
  }
  if (list === null) {
    list = document.createElement('datalist');
    list.id = `kv-values-${Math.random().toString(36).slice(2)}`;
    row.append(list);
  }
  if (list.dataset.values !== choices.join('\n')) {
    list.dataset.values = choices.join('\n');
    list.replaceChildren(...choices.map((value) => h('option', { value })));
  }
  input.setAttribute('list', list.id);
}
