import type { DocumentRevisions } from '@llamaproxy/shared';
import { attempt, runJob } from '../../core/actions.js';
import { confirmConflict, sendRevisioned } from '../../core/conflict.js';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h, replaceChildren, setText } from '../../core/dom.js';
import { needs, watchPermissions } from '../../core/permissions.js';
import { buildConfigFile, parseConfigFile, type ConfigFile } from '../../lib/config-file.js';
import { downloadText, fileStamp } from '../../lib/download.js';

/** Export and import of the whole configuration (router config + preferences + preset) as one file. */
export class TransferCard extends Component<AppContext> {
  private pending: ConfigFile | null = null;
  /**
   * The revisions of what the review said the import replaces, taken when it was shown: each
   * update names its own, so a document someone changed since asks before it is overwritten.
   */
  private replacing: DocumentRevisions = { config: 0, preset: 0, settings: 0 };

  protected override render(): HTMLElement {
    return h(
      'section',
      { class: 'card' },
      h('h2', null, 'Export and import'),
      h('p', { class: 'muted' }, 'One JSON file with the llama-server configuration, these preferences and the preset.'),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'button', 'data-action': 'export' }, 'Export configuration'),
        h('label', { class: 'button', ...needs('settings:update', 'presets:update', 'config:update') }, 'Import from file…', h('input', { type: 'file', accept: 'application/json,.json', class: 'visually-hidden', 'data-action': 'pick' })),
      ),
      h('div', { class: 'import-review', 'aria-live': 'polite' }),
    );
  }

  protected override onMount(): void {
    this.own(watchPermissions(this.props.store, this.el));
  }

  protected override events(): EventMap {
    return {
      'click [data-action="export"]': () => void this.export(),
      'change [data-action="pick"]': (_e, input) => void this.review(input as HTMLInputElement),
      'click [data-action="import"]': () => void this.import(),
      'click [data-action="cancel"]': () => this.showReview(null, []),
    };
  }

  private async export(): Promise<void> {
    const { store } = this.props;
    const config = store.get('config');
    const settings = store.get('settings');
    const preset = await attempt(this.props, 'Export', () => store.request('presets:get', {}));
    if (config === null || settings === null || preset === null) {
      if (preset !== null) {
        this.props.toasts.error('Export: not connected to the gateway yet');
      }
      return;
    }
    downloadText(`llamaproxy-config-${fileStamp()}.json`, JSON.stringify(buildConfigFile(config, settings, preset.preset), null, 2));
  }

  private async review(input: HTMLInputElement): Promise<void> {
    const file = input.files?.[0];
    input.value = '';
    if (file === undefined) {
      return;
    }
    const parsed = parseConfigFile(await file.text());
    this.showReview(parsed.ok ? parsed.file : null, parsed.ok ? [] : parsed.problems);
  }

  private showReview(file: ConfigFile | null, problems: string[]): void {
    this.pending = file;
    this.replacing = this.props.store.get('revisions') ?? { config: 0, preset: 0, settings: 0 };
    const box = this.el.querySelector('.import-review') as HTMLElement;
    if (file === null) {
      replaceChildren(box, problems.length > 0 ? h('ul', { class: 'plain-list' }, problems.map((p) => h('li', { class: 'problem' }, p))) : null);
      return;
    }
    replaceChildren(
      box,
      h(
        'div',
        { class: 'review' },
        h('p', null, `File exported ${file.exportedAt ?? 'at an unknown time'}: models directory ${file.config.modelsDir}, ${file.preset.sections.length} preset sections.`),
        h('p', { class: 'muted' }, 'Importing replaces the preferences and the preset, then applies the configuration, which restarts llama-server.'),
        h('p', { class: 'import-status muted' }),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'button primary', 'data-action': 'import' }, 'Import'), h('button', { type: 'button', class: 'button', 'data-action': 'cancel' }, 'Cancel')),
      ),
    );
  }

  private async import(): Promise<void> {
    const file = this.pending;
    if (file === null) {
      return;
    }
    const ctx = this.props;
    const status = (text: string): void => setText(this.el.querySelector('.import-status') as HTMLElement, text);
    (this.el.querySelector('[data-action="import"]') as HTMLButtonElement).disabled = true;
    status('Saving preferences…');
    const { store } = ctx;
    const base = this.replacing;
    // Declining to overwrite stops the import there; the store already shows their version.
    const keepTheirs = (): void => undefined;
    const saved = await attempt(ctx, 'Import preferences', () =>
      sendRevisioned(base.settings, (revision) => store.request('settings:update', { settings: file.settings, revision }), confirmConflict('The dashboard preferences'), keepTheirs),
    );
    status('Applying the preset…');
    const preset =
      saved !== null &&
      (await runJob(ctx, 'Import preset', () => sendRevisioned(base.preset, (revision) => store.request('presets:update', { preset: file.preset, revision }), confirmConflict('The preset'), keepTheirs)));
    status('Applying the configuration (restarts llama-server)…');
    const config =
      preset &&
      (await runJob(ctx, 'Import configuration', () =>
        sendRevisioned(base.config, (revision) => store.request('config:update', { config: file.config, revision }), confirmConflict('The router configuration'), keepTheirs),
      ));
    if (!this.isDestroyed) {
      status(config ? 'Imported.' : 'Import stopped; see the message above.');
      if (config) {
        this.pending = null;
      }
    }
  }
}
