import { ServerConfigSchema, extraArgsPolicyProblems, extraArgsProblems, formatArgPolicyProblem, type ServerConfig } from '@llamaproxy/shared';
import { ProgressBar } from '../../components/progress-bar.js';
import { runJob } from '../../core/actions.js';
import { confirmConflict, sendRevisioned } from '../../core/conflict.js';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h, setText } from '../../core/dom.js';
import { editNeeds, needs, readOnlyNote, watchPermissions } from '../../core/permissions.js';
import type { ArgIndex } from '../../lib/arg-check.js';
import { joinArgs, splitArgs } from '../../lib/args.js';

export interface ServerConfigFormProps {
  ctx: AppContext;
  args: ArgIndex | null;
}

type Field = keyof ServerConfig;

const FIELDS: { name: Field; label: string; hint: string; input: Record<string, string | number> }[] = [
  // modelsDir, host and port come from the supervisor's environment only: shown, never sent as changes.
  { name: 'modelsDir', label: 'Models directory', hint: 'Set by MODELS_DIR on the supervisor', input: { type: 'text', readonly: 'readonly' } },
  { name: 'modelsMax', label: 'Models loaded at once', hint: '0 = unlimited; beyond it the least recently used is unloaded', input: { type: 'number', min: 0, max: 256 } },
  { name: 'parallel', label: 'Parallel slots per model', hint: '--parallel', input: { type: 'number', min: 1, max: 256 } },
  { name: 'ctxSize', label: 'Context size', hint: '0 = each model’s training context', input: { type: 'number', min: 0, step: 256 } },
  { name: 'gpuLayers', label: 'GPU layers', hint: 'A number, auto or all', input: { type: 'text', list: 'gpu-layers-choices' } },
  { name: 'threadsHttp', label: 'HTTP threads', hint: '-1 = llama-server’s default', input: { type: 'number', min: -1 } },
  { name: 'host', label: 'Listen host', hint: 'Set by LLAMA_HOST on the supervisor', input: { type: 'text', readonly: 'readonly' } },
  { name: 'port', label: 'Listen port', hint: 'Set by LLAMA_PORT on the supervisor', input: { type: 'number', min: 1, max: 65_535, readonly: 'readonly' } },
];

/** The router settings with validation; applying them restarts llama-server through the supervisor. */
export class ServerConfigForm extends Component<ServerConfigFormProps> {
  private progress: ProgressBar | null = null;
  private applying = false;
  /** The configuration the form was last filled from; edits are measured against it. */
  private base: ServerConfig | null = null;
  /** The revision of `base`: what an apply names, so a stale one is refused (CONFLICT). */
  private baseRevision = 0;

  protected override render(): HTMLElement {
    return h(
      'form',
      { class: 'card config-form', novalidate: true },
      h('div', { class: 'card-header' }, h('h2', null, 'llama-server router'), h('span', { class: 'badge dirty', hidden: true }, 'unsaved changes')),
      h('p', { class: 'notice muted', hidden: true }, 'The configuration changed on the server. ', h('button', { type: 'button', class: 'button ghost', 'data-action': 'take-server' }, 'Load it')),
      readOnlyNote('config:update', 'changing the router settings'),
      h(
        'fieldset',
        { class: 'bare stack', ...editNeeds('config:update') },
        h(
          'div',
          { class: 'form-grid' },
          FIELDS.map((f) =>
            h(
              'div',
              { class: 'field' },
              h('label', { for: `cfg-${f.name}` }, f.label),
              h('input', { id: `cfg-${f.name}`, name: f.name, ...f.input, 'aria-describedby': `cfg-${f.name}-hint cfg-${f.name}-problem` }),
              h('span', { class: 'hint', id: `cfg-${f.name}-hint` }, f.hint),
              h('span', { class: 'problem', id: `cfg-${f.name}-problem` }),
            ),
          ),
          h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'autoload' }), ' Load a model on the first request that names it'),
        ),
        h('datalist', { id: 'gpu-layers-choices' }, h('option', { value: 'auto' }), h('option', { value: 'all' })),
        h(
          'div',
          { class: 'field' },
          h('label', { for: 'cfg-extraArgs' }, 'Extra arguments'),
          h('textarea', { id: 'cfg-extraArgs', name: 'extraArgs', rows: 2, spellcheck: 'false', placeholder: '--flash-attn on --cache-type-k q8_0' }),
          h('span', { class: 'hint' }, 'Passed to llama-server as they are; quote values with spaces'),
          h('span', { class: 'problem', id: 'cfg-extraArgs-problem' }),
        ),
      ),
      h('div', { class: 'job' }),
      h(
        'div',
        { class: 'actions', ...needs('config:update') },
        h('button', { type: 'submit', class: 'button primary', 'data-action': 'apply' }, 'Apply and restart'),
        h('button', { type: 'button', class: 'button', 'data-action': 'reset' }, 'Discard changes'),
      ),
    );
  }

  protected override events(): EventMap {
    return {
      input: () => this.check(),
      change: () => this.check(),
      submit: (e) => {
        e.preventDefault();
        void this.apply();
      },
      'click [data-action="reset"]': () => this.fill(this.props.ctx.store.get('config')),
      'click [data-action="take-server"]': () => this.fill(this.props.ctx.store.get('config')),
    };
  }

  protected override onMount(): void {
    this.own(watchPermissions(this.props.ctx.store, this.el));
    this.own(
      this.props.ctx.store.subscribe(
        'config',
        (config) => {
          if (this.isDirty() && !this.applying) {
            (this.el.querySelector('.notice') as HTMLElement).hidden = false;
          } else {
            this.fill(config);
          }
        },
        true,
      ),
    );
  }

  private input(name: string): HTMLInputElement | HTMLTextAreaElement {
    return (this.el as HTMLFormElement).elements.namedItem(name) as HTMLInputElement;
  }

  private fill(config: ServerConfig | null): void {
    (this.el.querySelector('.notice') as HTMLElement).hidden = true;
    if (config === null) {
      return;
    }
    this.base = config;
    this.baseRevision = this.props.ctx.store.get('revisions')?.config ?? 0;
    for (const f of FIELDS) {
      this.input(f.name).value = String(config[f.name]);
    }
    (this.input('autoload') as HTMLInputElement).checked = config.autoload;
    this.input('extraArgs').value = joinArgs(config.extraArgs);
    this.check();
  }

  /** The form as a configuration (numbers parsed; unparseable numbers become NaN and fail). */
  private read(): Record<Field, unknown> {
    const num = (name: Field): number => (this.input(name).value.trim() === '' ? Number.NaN : Number(this.input(name).value));
    const layers = this.input('gpuLayers').value.trim();
    return {
      modelsDir: this.input('modelsDir').value.trim(),
      modelsMax: num('modelsMax'),
      parallel: num('parallel'),
      threadsHttp: num('threadsHttp'),
      ctxSize: num('ctxSize'),
      gpuLayers: /^\d+$/.test(layers) ? Number(layers) : layers,
      host: this.input('host').value.trim(),
      port: num('port'),
      autoload: (this.input('autoload') as HTMLInputElement).checked,
      extraArgs: splitArgs(this.input('extraArgs').value),
    };
  }

  private isDirty(): boolean {
    const base = this.base;
    if (base === null) {
      return false;
    }
    const form = this.read();
    const keys = Object.keys(base) as Field[];
    return keys.some((k) => JSON.stringify(form[k]) !== JSON.stringify(base[k]));
  }

  /** Shows every problem beside its field; returns the valid configuration or null. */
  private check(): ServerConfig | null {
    const candidate = this.read();
    const problems = new Map<string, string>();
    const parsed = ServerConfigSchema.safeParse(candidate);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = String(issue.path[0] ?? 'extraArgs');
        problems.set(field, problems.get(field) ?? (issue.code === 'invalid_type' ? 'required, as a number' : issue.message));
      }
    }
    const extraArgs = Array.isArray(candidate.extraArgs) ? (candidate.extraArgs as string[]) : [];
    const policy = this.props.args?.policy ?? null;
    const extra = [
      ...(policy === null ? [] : extraArgsPolicyProblems(extraArgs, policy).map(formatArgPolicyProblem)),
      ...extraArgsProblems(extraArgs, this.props.args?.args ?? null),
    ];
    if (extra.length > 0) {
      problems.set('extraArgs', extra.join('; '));
    }
    for (const name of [...FIELDS.map((f) => f.name), 'extraArgs']) {
      const problem = problems.get(name) ?? '';
      setText(this.el.querySelector(`#cfg-${name}-problem`) as HTMLElement, problem);
      this.input(name).setAttribute('aria-invalid', String(problem !== ''));
    }
    const dirty = this.isDirty();
    (this.el.querySelector('.dirty') as HTMLElement).hidden = !dirty;
    (this.el.querySelector('[data-action="apply"]') as HTMLButtonElement).disabled = this.applying || !dirty || problems.size > 0;
    return problems.size === 0 && parsed.success ? parsed.data : null;
  }

  private async apply(): Promise<void> {
    const config = this.check();
    if (config === null || !confirm('Applying restarts llama-server: loaded models are unloaded and requests in flight fail. Continue?')) {
      return;
    }
    const { ctx } = this.props;
    this.applying = true;
    this.check();
    this.drop(this.progress);
    this.progress = this.adopt(new ProgressBar({ value: null, label: 'Queued' }), this.el.querySelector('.job') as HTMLElement);
    await runJob(
      ctx,
      'Apply configuration',
      () =>
        sendRevisioned(this.baseRevision, (revision) => ctx.store.request('config:update', { config, revision }), confirmConflict('The router configuration'), () => {
          this.applying = false;
          this.fill(ctx.store.get('config'));
        }),
      (job) => this.progress?.update({ value: job.progress?.value ?? null, label: job.progress?.message ?? job.progress?.stage ?? job.state }),
    );
    if (this.isDestroyed) {
      return;
    }
    // On success the gateway broadcasts `config:updated` with what the form holds; on failure the
    // form keeps the values so they can be corrected.
    this.applying = false;
    this.drop(this.progress);
    this.progress = null;
    this.check();
  }
}
