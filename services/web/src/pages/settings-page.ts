import { Component } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h } from '../core/dom.js';
import { PreferencesForm } from './settings/preferences-form.js';
import { TransferCard } from './settings/transfer-card.js';

/** Dashboard preferences (persisted by the gateway) and export/import of the whole configuration. */
export class SettingsPage extends Component<AppContext> {
  protected override render(): HTMLElement {
    const page = h('div', { class: 'page', 'data-page': 'settings' });
    this.adopt(new PreferencesForm(this.props), page);
    this.adopt(new TransferCard(this.props), page);
    return page;
  }
}
