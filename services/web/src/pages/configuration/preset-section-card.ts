import { PresetValuesEditor } from '../../components/preset-values-editor.js';
import { Component } from '../../core/component.js';
import { h } from '../../core/dom.js';
import type { ArgIndex } from '../../lib/arg-check.js';

export interface PresetSectionProps {
  /** `*` for the global defaults. */
  name: string;
  values: Record<string, string>;
  /** A model of the models directory (otherwise a custom entry, which needs `model = path`). */
  isModel: boolean;
  args: ArgIndex | null;
  onChange: () => void;
}

/** One `[section]` of the preset as a card of key/value rows; removal is handled by the editor. */
export class PresetSectionCard extends Component<PresetSectionProps> {
  private editor!: PresetValuesEditor;

  protected override render(): HTMLElement {
    const { name, isModel, values, args, onChange } = this.props;
    const global = name === '*';
    const card = h(
      'section',
      { class: 'preset-section', 'data-section': name },
      h(
        'header',
        { class: 'card-header' },
        h('h3', null, global ? 'Global defaults ' : name + ' ', h('code', { class: 'muted' }, `[${name}]`)),
        global ? null : h('span', { class: 'badge', 'data-tone': isModel ? 'ok' : 'busy' }, isModel ? 'model' : 'custom entry'),
        global ? null : h('button', { type: 'button', class: 'button ghost danger', 'data-action': 'remove-section', 'data-section': name }, 'Remove'),
      ),
      global ? h('p', { class: 'muted' }, 'Apply to every model unless its own section says otherwise.') : null,
      !global && !isModel ? h('p', { class: 'muted' }, 'Not in the models directory: give the GGUF file with the key "model".') : null,
    );
    this.editor = this.adopt(new PresetValuesEditor({ values, args, allowModelKey: !global && !isModel, onChange }), card);
    return card;
  }

  get name(): string {
    return this.props.name;
  }

  values(): Record<string, string> {
    return this.editor.values();
  }

  problems(): string[] {
    return this.editor.validate().map((p) => `[${this.props.name}] ${p}`);
  }
}
