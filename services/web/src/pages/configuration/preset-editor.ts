import { PresetDocumentSchema, parsePresetIni, serializePresetIni, type IniProblem, type PresetDocument } from '@llamaproxy/shared';
import { ProgressBar } from '../../components/progress-bar.js';
import { attempt, runJob } from '../../core/actions.js';
import { confirmConflict, sendRevisioned } from '../../core/conflict.js';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h, replaceChildren, setText, valueOf } from '../../core/dom.js';
import { editNeeds, needs, readOnlyNote, watchPermissions } from '../../core/permissions.js';
import { withRevision } from '../../core/reducers.js';
import { presetDocumentProblems, type ArgIndex } from '../../lib/arg-check.js';
import { PresetSectionCard } from './preset-section-card.js';

export interface PresetEditorProps {
  ctx: AppContext;
  args: ArgIndex | null;
}

type View = 'structured' | 'raw';

/**
 * The preset INI the supervisor owns: `[*]` defaults, one section per model and custom entries,
 * each key checked against llama-server's arguments; or the raw INI text. Saving applies it.
 */
export class PresetEditor extends Component<PresetEditorProps> {
  private view: View = 'structured';
  /** The document as last taken from the server or the raw view. */
  private doc: PresetDocument = { global: {}, sections: [] };
  private cards: PresetSectionCard[] = [];
  /** The model ids the "add a section" choices were built from (null before the first build). */
  private choiceIds: string | null = null;
  private dirty = false;
  private progress: ProgressBar | null = null;
  /** The preset revision `doc` was taken at: what a save names, so a stale one is refused (CONFLICT). */
  private baseRevision = 0;

  protected override render(): HTMLElement {
    return h(
      'section',
      { class: 'card preset-editor' },
      h('div', { class: 'card-header' }, h('h2', null, 'Presets'), h('span', { class: 'badge dirty', hidden: true }, 'unsaved changes')),
      h('p', { class: 'catalogue-note muted', hidden: this.props.args !== null }, 'llama-server has not reported its arguments yet (it has never run), so keys are not checked.'),
      h(
        'div',
        { class: 'tabs', role: 'tablist' },
        h('button', { type: 'button', role: 'tab', 'data-view': 'structured', 'aria-selected': 'true' }, 'Sections'),
        h('button', { type: 'button', role: 'tab', 'data-view': 'raw', 'aria-selected': 'false' }, 'Raw INI'),
      ),
      readOnlyNote('presets:update', 'changing the presets'),
      h(
        'div',
        { class: 'structured', role: 'tabpanel' },
        h('fieldset', { class: 'bare', ...editNeeds('presets:update') }, h('div', { class: 'sections' })),
        h(
          'div',
          { class: 'actions add-section', ...needs('presets:update') },
          h('select', { class: 'add-model', 'aria-label': 'Model to add a section for' }),
          h('button', { type: 'button', class: 'button', 'data-action': 'add-model' }, 'Add model section'),
          h('input', { class: 'custom-name', placeholder: 'custom entry name', 'aria-label': 'Custom entry name' }),
          h('button', { type: 'button', class: 'button', 'data-action': 'add-custom' }, 'Add custom entry'),
        ),
      ),
      h('div', { class: 'raw', role: 'tabpanel', hidden: true }, h('textarea', { class: 'ini', rows: 18, spellcheck: 'false', 'aria-label': 'Preset INI', ...editNeeds('presets:update') })),
      h('ul', { class: 'problems plain-list', role: 'alert' }),
      h('div', { class: 'job' }),
      h(
        'div',
        { class: 'actions', ...needs('presets:update') },
        h('button', { type: 'button', class: 'button primary', 'data-action': 'save' }, 'Save and apply'),
        h('button', { type: 'button', class: 'button', 'data-action': 'validate' }, 'Check on the server'),
        h('button', { type: 'button', class: 'button', 'data-action': 'discard' }, 'Discard changes'),
      ),
    );
  }

  protected override events(): EventMap {
    return {
      'click [data-view]': (_e, tab) => this.switchView(tab.dataset.view as View),
      'click [data-action="add-model"]': () => this.addSection(valueOf(this.el.querySelector('.add-model') as HTMLSelectElement), true),
      'click [data-action="add-custom"]': () => {
        const input = this.el.querySelector('.custom-name') as HTMLInputElement;
        if (this.addSection(input.value.trim(), false)) {
          input.value = '';
        }
      },
      'click [data-action="remove-section"]': (_e, button) => this.removeSection(button.dataset.section ?? ''),
      'input .ini': () => this.markDirty(),
      'click [data-action="save"]': () => void this.save(),
      'click [data-action="validate"]': () => void this.validateOnServer(),
      'click [data-action="discard"]': () => this.take(this.props.ctx.store.get('preset')?.preset ?? this.doc),
    };
  }

  protected override onMount(): void {
    const { store } = this.props.ctx;
    this.own(watchPermissions(store, this.el));
    this.own(
      store.subscribe(
        'preset',
        (preset) => {
          if (preset !== null && !this.dirty) {
            this.take(preset.preset);
          }
        },
        true,
      ),
    );
    this.own(store.subscribe('models', () => this.fillModelChoices()));
    void attempt(this.props.ctx, 'Loading the preset', () => store.request('presets:get', {})).then((reply) => {
      if (reply !== null) {
        // The revision first (setting the preset fills the editor, which reads it), unless a
        // broadcast brought a newer one meanwhile.
        if (reply.revision >= (store.get('revisions')?.preset ?? 0)) {
          store.set('revisions', withRevision(store.get('revisions'), 'preset', reply.revision));
          store.set('preset', { preset: reply.preset, ini: reply.ini });
        }
      }
    });
  }

  /** Shows a document (at `revision`, by default the store's), dropping unsaved edits. */
  private take(doc: PresetDocument, revision = this.props.ctx.store.get('revisions')?.preset ?? 0): void {
    this.doc = doc;
    this.baseRevision = revision;
    this.dirty = false;
    this.renderSections();
    (this.el.querySelector('.ini') as HTMLTextAreaElement).value = serializePresetIni(doc);
    this.showProblems([]);
    this.markDirty(false);
  }

  private renderSections(): void {
    this.cards.forEach((c) => this.drop(c));
    const box = this.el.querySelector('.sections') as HTMLElement;
    const models = new Set(this.props.ctx.store.get('models').map((m) => m.id));
    const onChange = (): void => this.markDirty();
    const sections = [{ name: '*', values: this.doc.global }, ...this.doc.sections];
    this.cards = sections.map((s) => this.adopt(new PresetSectionCard({ name: s.name, values: s.values, isModel: models.has(s.name), args: this.props.args, onChange }), box));
    this.fillModelChoices();
  }

  private fillModelChoices(): void {
    const taken = new Set(this.cards.map((c) => c.name));
    const free = this.props.ctx.store
      .get('models')
      .map((m) => m.id)
      .filter((id) => !taken.has(id))
      .sort();
    // A state change leaves the ids alone: thousands of options are rebuilt only when they change.
    const key = free.join('\n');
    if (key === this.choiceIds) {
      return;
    }
    this.choiceIds = key;
    replaceChildren(this.el.querySelector('.add-model') as HTMLElement, free.length === 0 ? h('option', { value: '' }, 'every model has a section') : free.map((id) => h('option', { value: id }, id)));
  }

  /** The structured view as a document. */
  private collect(): PresetDocument {
    const [global, ...rest] = this.cards;
    return { global: global?.values() ?? {}, sections: rest.map((c) => ({ name: c.name, values: c.values() })) };
  }

  private addSection(name: string, isModel: boolean): boolean {
    const problem = name === '' ? 'Give the section a name' : /[\]\r\n]/.test(name) || name === '*' ? 'That name cannot be a section' : this.cards.some((c) => c.name === name) ? `[${name}] exists already` : null;
    if (problem !== null) {
      this.showProblems([problem]);
      return false;
    }
    this.doc = this.collect();
    this.doc = { ...this.doc, sections: [...this.doc.sections, { name, values: isModel ? {} : { model: '' } }] };
    this.renderSections();
    this.markDirty();
    return true;
  }

  private removeSection(name: string): void {
    this.doc = this.collect();
    this.doc = { ...this.doc, sections: this.doc.sections.filter((s) => s.name !== name) };
    this.renderSections();
    this.markDirty();
  }

  private switchView(view: View): void {
    if (view === this.view) {
      return;
    }
    if (view === 'raw') {
      this.doc = this.collect();
      (this.el.querySelector('.ini') as HTMLTextAreaElement).value = serializePresetIni(this.doc);
    } else {
      const parsed = parsePresetIni((this.el.querySelector('.ini') as HTMLTextAreaElement).value);
      if (!parsed.ok) {
        this.showProblems(parsed.problems);
        return;
      }
      this.doc = parsed.preset;
      this.renderSections();
    }
    this.view = view;
    for (const tab of this.el.querySelectorAll<HTMLElement>('[data-view]')) {
      tab.setAttribute('aria-selected', String(tab.dataset.view === view));
    }
    (this.el.querySelector('.structured') as HTMLElement).hidden = view !== 'structured';
    (this.el.querySelector('.raw') as HTMLElement).hidden = view !== 'raw';
    this.showProblems([]);
  }

  /** The edited document and what is wrong with it, checked locally. */
  private current(): { doc: PresetDocument | null; problems: (string | IniProblem)[] } {
    if (this.view === 'raw') {
      const parsed = parsePresetIni((this.el.querySelector('.ini') as HTMLTextAreaElement).value);
      if (!parsed.ok) {
        return { doc: null, problems: parsed.problems };
      }
      // The raw view refuses what the form refuses: the same per-entry rule on every section.
      const models = new Set(this.props.ctx.store.get('models').map((m) => m.id));
      return { doc: parsed.preset, problems: presetDocumentProblems(parsed.preset, this.props.args, models) };
    }
    const doc = this.collect();
    const problems: string[] = this.cards.flatMap((c) => c.problems());
    const schema = PresetDocumentSchema.safeParse(doc);
    if (!schema.success) {
      problems.push(...schema.error.issues.map((i) => i.message));
    }
    return { doc, problems };
  }

  private markDirty(dirty = true): void {
    this.dirty = dirty;
    (this.el.querySelector('.dirty') as HTMLElement).hidden = !dirty;
  }

  private showProblems(problems: readonly (string | IniProblem)[]): void {
    replaceChildren(
      this.el.querySelector('.problems') as HTMLElement,
      problems.map((p) => h('li', { class: 'problem' }, typeof p === 'string' ? p : p.line > 0 ? `line ${p.line}: ${p.message}` : p.message)),
    );
  }

  private async validateOnServer(): Promise<void> {
    const { doc, problems } = this.current();
    if (doc === null) {
      this.showProblems(problems);
      return;
    }
    const reply = await attempt(this.props.ctx, 'Checking the preset', () => this.props.ctx.store.request('presets:validate', { preset: doc }));
    if (reply !== null) {
      this.showProblems(reply.valid ? [] : reply.problems);
      if (reply.valid) {
        this.props.ctx.toasts.success('The server accepts this preset');
      }
    }
  }

  private async save(): Promise<void> {
    const { doc, problems } = this.current();
    this.showProblems(problems);
    if (doc === null || problems.length > 0) {
      return;
    }
    const { ctx } = this.props;
    const button = this.el.querySelector('[data-action="save"]') as HTMLButtonElement;
    button.disabled = true;
    this.drop(this.progress);
    this.progress = this.adopt(new ProgressBar({ value: null, label: 'Queued' }), this.el.querySelector('.job') as HTMLElement);
    // Stored at the answer's revision: the next save edits that one (the editor ignores the
    // broadcast of this change while the save is in flight).
    const stored = <T extends { revision: number }>(reply: T): T => {
      this.baseRevision = reply.revision;
      return reply;
    };
    const ok = await runJob(
      ctx,
      'Apply preset',
      () =>
        sendRevisioned(this.baseRevision, (revision) => ctx.store.request('presets:update', { preset: doc, revision }).then(stored), confirmConflict('The preset'), (current) => {
          // Theirs, as the conflict carried it: the broadcast of their change may not be here yet.
          const theirs = PresetDocumentSchema.safeParse(current.value);
          if (theirs.success) {
            this.take(theirs.data, current.revision);
          } else {
            this.take(ctx.store.get('preset')?.preset ?? this.doc);
          }
        }),
      (job) => this.progress?.update({ value: job.progress?.value ?? null, label: job.progress?.message ?? job.state }),
    );
    if (this.isDestroyed) {
      return;
    }
    button.disabled = false;
    this.drop(this.progress);
    this.progress = null;
    if (ok) {
      // `presets:updated` follows; take it as the new state.
      this.dirty = false;
      this.markDirty(false);
    }
    setText(this.el.querySelector('.job') as HTMLElement, '');
  }
}
