import type { ModelPlacementSettings, PlacementSettingsDoc } from '@llamaproxy/shared';
import { attempt } from '../../core/actions.js';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { field, h, replaceChildren, setText, valueOf } from '../../core/dom.js';
import { editNeeds, readOnlyNote, watchPermissions } from '../../core/permissions.js';
import { describePlacement, parseTtlInput, ttlInputValue } from '../../lib/placement-form.js';

const NO_SETTINGS: ModelPlacementSettings = { pinned: false, ttlSeconds: null, loadOnStartup: false };

/**
 * Placement settings on the Models page (issue #14): per model pin, idle time-to-live and load on
 * start-up, and the global default TTL. Operators edit them (`placement:update`, under the
 * document's revision); everyone sees them. The list below names every model with settings of its own.
 */
export class PlacementSettingsCard extends Component<AppContext> {
  private defaultTtl!: HTMLInputElement;
  private model!: HTMLSelectElement;
  private pinned!: HTMLInputElement;
  private ttl!: HTMLInputElement;
  private startup!: HTMLInputElement;
  private problem!: HTMLElement;
  private own_!: HTMLElement;
  /** The model form was edited since it was filled: a broadcast does not overwrite it. */
  private dirty = false;

  protected override render(): HTMLElement {
    this.defaultTtl = h('input', { id: 'placement-default-ttl', type: 'number', min: 0, step: 1, class: 'narrow', inputmode: 'numeric' });
    this.model = h('select', { id: 'placement-model' });
    this.pinned = h('input', { id: 'placement-pinned', type: 'checkbox' });
    this.ttl = h('input', { id: 'placement-ttl', type: 'number', min: 0, step: 1, placeholder: 'default', class: 'narrow', inputmode: 'numeric' });
    this.startup = h('input', { id: 'placement-startup', type: 'checkbox' });
    this.problem = h('p', { class: 'problem form-problem', role: 'alert' });
    this.own_ = h('ul', { class: 'placement-own' });
    return h(
      'section',
      { class: 'card placement-settings', 'aria-labelledby': 'placement-title' },
      h('h2', { id: 'placement-title' }, 'Placement'),
      h(
        'p',
        { class: 'muted' },
        'Models are loaded by the memory they need; the least recently used ones are unloaded to make room. A pinned model is never unloaded for another, and never when idle.',
      ),
      h(
        'fieldset',
        { class: 'placement-row', ...editNeeds('placement:update') },
        field('Unload idle models after (seconds, 0 = never)', this.defaultTtl),
        h('button', { type: 'button', class: 'button', 'data-action': 'save-default' }, 'Save default'),
      ),
      h(
        'fieldset',
        { class: 'placement-row', ...editNeeds('placement:update') },
        field('Model', this.model),
        h('label', { class: 'check' }, this.pinned, ' Pinned'),
        field('Idle TTL (seconds; empty = default)', this.ttl),
        h('label', { class: 'check' }, this.startup, ' Load on start-up'),
        h('button', { type: 'button', class: 'button primary', 'data-action': 'save-model' }, 'Save'),
      ),
      this.problem,
      readOnlyNote('placement:update', 'changing placement'),
      h('h3', null, 'Models with their own settings'),
      this.own_,
    );
  }

  protected override events(): EventMap {
    return {
      'change #placement-model': () => this.fillModel(),
      'input fieldset': (_e, target) => {
        if (target.contains(this.model)) {
          this.dirty = true;
        }
      },
      'change input[type="checkbox"]': () => {
        this.dirty = true;
      },
      'click [data-action="save-default"]': () => void this.saveDefault(),
      'click [data-action="save-model"]': () => void this.saveModel(),
    };
  }

  protected override onMount(): void {
    const { store } = this.props;
    this.own(store.subscribe('models', () => this.showModels(), true));
    this.own(store.subscribe('placement', () => this.showSettings(), true));
    this.own(watchPermissions(store, this.el));
  }

  /** Selects a model in the form (the Models page's rows call this). */
  select(modelId: string): void {
    this.model.value = modelId;
    this.fillModel();
    this.el.scrollIntoView({ block: 'nearest' });
  }

  private doc(): PlacementSettingsDoc | null {
    return this.props.store.get('placement');
  }

  private showModels(): void {
    const ids = this.props.store.get('models').map((m) => m.id);
    const unique = [...new Set(ids)].sort();
    const chosen = this.model.value;
    if (unique.join('\n') !== [...this.model.options].map((o) => o.value).join('\n')) {
      replaceChildren(this.model, unique.map((id) => h('option', { value: id }, id)));
      this.model.value = unique.includes(chosen) ? chosen : (unique[0] ?? '');
      this.fillModel();
    }
  }

  private showSettings(): void {
    const doc = this.doc();
    if (doc === null) {
      return;
    }
    if (document.activeElement !== this.defaultTtl) {
      this.defaultTtl.value = String(doc.settings.defaultTtlSeconds);
    }
    if (!this.dirty) {
      this.fillModel();
    }
    const entries = Object.entries(doc.settings.models);
    replaceChildren(
      this.own_,
      entries.length === 0 ? h('li', { class: 'muted' }, 'None: every model has the defaults.') : entries.map(([id, s]) => h('li', { 'data-model': id }, `${id}: ${describePlacement(s)}`)),
    );
  }

  private fillModel(): void {
    const s = this.doc()?.settings.models[this.model.value] ?? NO_SETTINGS;
    this.pinned.checked = s.pinned;
    this.ttl.value = ttlInputValue(s.ttlSeconds);
    this.startup.checked = s.loadOnStartup;
    this.dirty = false;
    setText(this.problem, '');
  }

  private async saveDefault(): Promise<void> {
    const seconds = parseTtlInput(valueOf(this.defaultTtl));
    const doc = this.doc();
    if (seconds === null || typeof seconds === 'string' || doc === null) {
      setText(this.problem, typeof seconds === 'string' ? seconds : 'Enter a number of seconds (0 = never).');
      return;
    }
    await this.send({ defaultTtlSeconds: seconds, revision: doc.revision }, 'Default TTL saved');
  }

  private async saveModel(): Promise<void> {
    const modelId = this.model.value;
    const ttl = parseTtlInput(valueOf(this.ttl));
    const doc = this.doc();
    if (modelId === '' || typeof ttl === 'string' || doc === null) {
      setText(this.problem, typeof ttl === 'string' ? ttl : 'Choose a model.');
      return;
    }
    const settings: ModelPlacementSettings = { pinned: this.pinned.checked, ttlSeconds: ttl, loadOnStartup: this.startup.checked };
    await this.send({ models: { [modelId]: settings }, revision: doc.revision }, `Placement of ${modelId} saved`);
  }

  private async send(payload: { defaultTtlSeconds?: number; models?: Record<string, ModelPlacementSettings>; revision: number }, done: string): Promise<void> {
    setText(this.problem, '');
    const saved = await attempt(this.props, 'Placement', () => this.props.store.request('placement:update', payload));
    if (saved !== null && !this.isDestroyed) {
      // The broadcast brings the same document; applied now so the form is current at once.
      this.props.store.set('placement', saved);
      this.dirty = false;
      this.showSettings();
      this.props.toasts.success(done);
    }
  }
}
