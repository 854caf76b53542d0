import { isTruthy, type ModelView } from '@llamaproxy/shared';
import { runJob } from '../core/actions.js';
import { confirmConflict, sendRevisioned } from '../core/conflict.js';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h, setText } from '../core/dom.js';
import { editNeeds, needs, readOnlyNote, syncPermissions } from '../core/permissions.js';
import { argValueChoices, presetEntryProblem, type ArgIndex } from '../lib/arg-check.js';
import { PresetValuesEditor } from './preset-values-editor.js';
import { ProgressBar } from './progress-bar.js';

export interface ModelSettingsProps {
  ctx: AppContext;
  model: ModelView;
  args: ArgIndex | null;
}

/** Keys with their own inputs; everything else is an "other flag" row. */
const CTX = 'ctx-size';
const GPU_LAYERS = 'n-gpu-layers';
const ON_START = 'load-on-startup';

/**
 * A model's section of the preset: context size, GPU layers, load on startup and any other
 * llama-server flag, checked against the catalogue. Saving applies the preset (a job).
 */
export class ModelSettingsDialog extends Component<ModelSettingsProps> {
  private others!: PresetValuesEditor;
  private progress: ProgressBar | null = null;

  protected override render(): HTMLElement {
    const { model, args } = this.props;
    const s = model.settings;
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'model-settings-title' },
      h(
        'form',
        { method: 'dialog', class: 'stack' },
        h('h2', { id: 'model-settings-title' }, `Settings of ${model.id}`),
        h('p', { class: 'muted' }, 'Stored in this model’s section of the preset; applied when the model next loads.'),
        readOnlyNote('models:settings:update', 'changing these'),
        h(
          'fieldset',
          { class: 'bare stack', ...editNeeds('models:settings:update') },
          h(
            'div',
            { class: 'form-grid' },
            field('Context size', h('input', { name: CTX, type: 'number', min: 0, step: 256, value: s[CTX] ?? '', placeholder: 'server default' }), 'Tokens; 0 = the model’s own'),
            field('GPU layers', h('input', { name: GPU_LAYERS, value: s[GPU_LAYERS] ?? '', placeholder: 'server default', list: 'gpu-layer-choices' }), 'A number, auto or all'),
            h('label', { class: 'check' }, h('input', { name: ON_START, type: 'checkbox', checked: isTruthy(s[ON_START] ?? '') }), ' Load on startup'),
          ),
          // The values llama-server's --help offers for the flag (a number, auto, all), as the validator accepts them.
          h('datalist', { id: 'gpu-layer-choices' }, ...(argValueChoices(GPU_LAYERS, args).length > 0 ? argValueChoices(GPU_LAYERS, args) : ['auto', 'all']).map((v) => h('option', { value: v }))),
          h('h3', null, 'Other flags'),
          h('div', { class: 'others' }),
        ),
        h('div', { class: 'problem form-problem', role: 'alert' }),
        h('div', { class: 'job' }),
        h(
          'div',
          { class: 'actions' },
          h('button', { type: 'button', class: 'button primary', 'data-action': 'save', ...needs('models:settings:update') }, 'Save'),
          h('button', { type: 'button', class: 'button', 'data-action': 'close' }, 'Cancel'),
        ),
      ),
    );
    this.others = this.adopt(
      new PresetValuesEditor({ values: s, args, allowModelKey: false, hiddenKeys: [CTX, GPU_LAYERS, ON_START] }),
      dialog.querySelector('.others') as HTMLElement,
    );
    dialog.addEventListener('close', () => this.destroy());
    return dialog;
  }

  protected override events(): EventMap {
    return {
      'click [data-action="close"]': () => (this.el as HTMLDialogElement).close(),
      'click [data-action="save"]': () => void this.save(),
    };
  }

  open(): void {
    syncPermissions(this.el, this.props.ctx.store.get('identity'));
    document.body.append(this.el);
    (this.el as HTMLDialogElement).showModal();
  }

  private read(): { settings: Record<string, string>; problems: string[] } {
    const form = this.el.querySelector('form') as HTMLFormElement;
    const input = (name: string): HTMLInputElement => form.elements.namedItem(name) as HTMLInputElement;
    const settings = this.others.values();
    const problems = this.others.validate();
    const ctx = input(CTX).value.trim();
    if (ctx !== '') {
      settings[CTX] = ctx;
      if (!/^\d+$/.test(ctx)) {
        problems.push('Context size must be a whole number');
      } else {
        pushProblem(problems, 'Context size', presetEntryProblem(CTX, ctx, this.props.args, false));
      }
    }
    const layers = input(GPU_LAYERS).value.trim();
    if (layers !== '') {
      settings[GPU_LAYERS] = layers;
      if (!/^(-?\d+|auto|all)$/.test(layers)) {
        problems.push('GPU layers must be a number, auto or all');
      } else {
        // The shared rule from the binary's --help (the same one the raw INI editor and the supervisor apply).
        pushProblem(problems, 'GPU layers', presetEntryProblem(GPU_LAYERS, layers, this.props.args, false));
      }
    }
    if (input(ON_START).checked) {
      settings[ON_START] = 'true';
    }
    return { settings, problems };
  }

  private async save(): Promise<void> {
    const { ctx, model } = this.props;
    const { settings, problems } = this.read();
    setText(this.el.querySelector('.form-problem') as HTMLElement, problems.join('; '));
    if (problems.length > 0) {
      return;
    }
    const save = this.el.querySelector('[data-action="save"]') as HTMLButtonElement;
    save.disabled = true;
    this.progress = this.adopt(new ProgressBar({ value: null, label: 'Applying the preset' }), this.el.querySelector('.job') as HTMLElement);
    const ok = await runJob(
      ctx,
      `Settings of ${model.id}`,
      // Under the revision the dialog was opened with: a stale save asks to overwrite or reload.
      () => sendRevisioned(model.settingsRevision, (revision) => ctx.store.request('models:settings:update', { modelId: model.id, settings, revision }), confirmConflict(`The settings of ${model.id}`), () => (this.el as HTMLDialogElement).close()),
      (job) => this.progress?.update({ value: job.progress?.value ?? null, label: job.progress?.message ?? job.state }),
    );
    if (this.isDestroyed) {
      return;
    }
    this.drop(this.progress);
    save.disabled = false;
    if (ok) {
      (this.el as HTMLDialogElement).close();
    }
  }
}

function pushProblem(problems: string[], label: string, problem: string | null): void {
  if (problem !== null) {
    problems.push(`${label}: ${problem}`);
  }
}

function field(label: string, input: HTMLInputElement, hint: string): HTMLElement {
  const id = `field-${input.name}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, h('span', { class: 'hint' }, hint));
}
