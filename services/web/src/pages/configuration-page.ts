import { Component } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h } from '../core/dom.js';
import { loadArgIndex } from '../lib/catalogue.js';
import { PresetEditor } from './configuration/preset-editor.js';
import { ServerConfigForm } from './configuration/server-config-form.js';

/** llama-server's router settings and the preset editor, both checked against its arguments. */
export class ConfigurationPage extends Component<AppContext> {
  protected override render(): HTMLElement {
    return h('div', { class: 'page', 'data-page': 'configuration' }, h('p', { class: 'muted loading' }, 'Loading llama-server’s arguments…'));
  }

  protected override onMount(): void {
    void loadArgIndex(this.props.store).then((args) => {
      if (this.isDestroyed) {
        return;
      }
      this.el.replaceChildren();
      this.adopt(new ServerConfigForm({ ctx: this.props, args }), this.el);
      this.adopt(new PresetEditor({ ctx: this.props, args }), this.el);
    });
  }
}
