import { DashboardSettingsSchema, type DashboardSettings } from '@llamaproxy/shared';
import { attempt } from '../../core/actions.js';
import { confirmConflict, sendRevisioned } from '../../core/conflict.js';
import { Component, type EventMap } from '../../core/component.js';
import type { AppContext } from '../../core/context.js';
import { h, setText } from '../../core/dom.js';
import { editNeeds, needs, readOnlyNote, watchPermissions } from '../../core/permissions.js';
import { applyTheme } from '../../core/theme.js';

type NumberField = { path: string; label: string; hint: string; min: number; max: number; scale?: number };

const NUMBERS: NumberField[] = [
  { path: 'metricsIntervalMs', label: 'Metrics interval (seconds)', hint: '1–60; how often every service samples', min: 1, max: 60, scale: 1000 },
  { path: 'retention.rawHours', label: 'Keep every sample for (hours)', hint: '1–168', min: 1, max: 168 },
  { path: 'retention.minuteDays', label: 'Keep per-minute points for (days)', hint: '1–90', min: 1, max: 90 },
  { path: 'retention.hourDays', label: 'Keep per-hour points for (days)', hint: '1–3650', min: 1, max: 3650 },
  { path: 'retention.logsMaxRows', label: 'Keep at most (log lines)', hint: '1,000–10,000,000', min: 1000, max: 10_000_000 },
  { path: 'retention.logsMaxAgeDays', label: 'Keep log lines for (days)', hint: '1–3650', min: 1, max: 3650 },
];

const id = (path: string): string => `set-${path.replace('.', '-')}`;

function getPath(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let target = obj;
  for (const k of keys) {
    target = (target[k] ??= {}) as Record<string, unknown>;
  }
  target[last] = value;
}

/** Dashboard preferences, stored on the server and shared by every user. */
export class PreferencesForm extends Component<AppContext> {
  /** The settings revision the form was last filled at: what a save names (stale: CONFLICT). */
  private baseRevision = 0;

  protected override render(): HTMLElement {
    const select = (name: string, label: string, options: [string, string][]) =>
      h('div', { class: 'field' }, h('label', { for: id(name) }, label), h('select', { id: id(name), name }, options.map(([v, text]) => h('option', { value: v }, text))));
    return h(
      'form',
      { class: 'card', novalidate: true },
      h('h2', null, 'Dashboard preferences'),
      readOnlyNote('settings:update', 'changing the preferences'),
      h(
        'fieldset',
        { class: 'bare form-grid', ...editNeeds('settings:update') },
        select('theme', 'Theme', [
          ['system', 'Follow the system'],
          ['light', 'Light'],
          ['dark', 'Dark'],
        ]),
        select('units.memory', 'Memory units', [
          ['binary', 'Binary (GiB)'],
          ['decimal', 'Decimal (GB)'],
        ]),
        select('units.temperature', 'Temperature', [
          ['c', 'Celsius'],
          ['f', 'Fahrenheit'],
        ]),
        NUMBERS.map((f) =>
          h(
            'div',
            { class: 'field' },
            h('label', { for: id(f.path) }, f.label),
            h('input', { id: id(f.path), name: f.path, type: 'number', min: f.min, max: f.max, required: true }),
            h('span', { class: 'hint' }, f.hint),
          ),
        ),
      ),
      h('p', { class: 'problem form-problem', role: 'alert' }),
      h('div', { class: 'actions', ...needs('settings:update') }, h('button', { type: 'submit', class: 'button primary' }, 'Save preferences'), h('button', { type: 'button', class: 'button', 'data-action': 'reset' }, 'Discard changes')),
    );
  }

  protected override events(): EventMap {
    return {
      submit: (e) => {
        e.preventDefault();
        void this.save();
      },
      'click [data-action="reset"]': () => this.fill(this.props.store.get('settings')),
    };
  }

  protected override onMount(): void {
    this.own(watchPermissions(this.props.store, this.el));
    this.own(this.props.store.subscribe('settings', (s) => this.fill(s), true));
  }

  private field(name: string): HTMLInputElement | HTMLSelectElement {
    return (this.el as HTMLFormElement).elements.namedItem(name) as HTMLInputElement;
  }

  private fill(settings: DashboardSettings | null, revision = this.props.store.get('revisions')?.settings ?? 0): void {
    if (settings === null) {
      return;
    }
    this.baseRevision = revision;
    for (const name of ['theme', 'units.memory', 'units.temperature']) {
      this.field(name).value = String(getPath(settings, name));
    }
    for (const f of NUMBERS) {
      this.field(f.path).value = String(Number(getPath(settings, f.path)) / (f.scale ?? 1));
    }
    setText(this.el.querySelector('.form-problem') as HTMLElement, '');
  }

  private read(): unknown {
    const out: Record<string, unknown> = {};
    for (const name of ['theme', 'units.memory', 'units.temperature']) {
      setPath(out, name, this.field(name).value);
    }
    for (const f of NUMBERS) {
      const raw = this.field(f.path).value.trim();
      setPath(out, f.path, raw === '' ? Number.NaN : Math.round(Number(raw) * (f.scale ?? 1)));
    }
    return out;
  }

  private async save(): Promise<void> {
    const parsed = DashboardSettingsSchema.safeParse(this.read());
    const problem = this.el.querySelector('.form-problem') as HTMLElement;
    if (!parsed.success) {
      setText(problem, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      return;
    }
    setText(problem, '');
    const { store } = this.props;
    const reply = await attempt(this.props, 'Saving preferences', () =>
      sendRevisioned(
        this.baseRevision,
        (revision) => store.request('settings:update', { settings: parsed.data, revision }),
        confirmConflict('The dashboard preferences'),
        // Theirs, as the conflict carried it: the broadcast of their change may not be here yet.
        (current) => {
          const theirs = DashboardSettingsSchema.safeParse(current.value);
          if (theirs.success) {
            this.fill(theirs.data, current.revision);
          } else {
            this.fill(store.get('settings'));
          }
        },
      ),
    );
    if (reply !== null) {
      applyTheme(reply.settings.theme);
      this.props.toasts.success('Preferences saved');
    }
  }
}
