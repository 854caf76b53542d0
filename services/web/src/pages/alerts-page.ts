import { ChannelKind, type AlertRule, type ChannelView, type DeliveryView, type FiringAlert } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { find, h, replaceChildren, setText } from '../core/dom.js';
import { KeyedList, type ListView } from '../core/keyed-list.js';
import { errorMessage } from '../core/transport.js';
import { CHANNEL_FIELDS, channelFormValues, channelPatch, channelUpdate, customRuleInput, ruleInput, ruleParamFields, upsertDelivery, type ChannelField } from '../lib/alerts.js';
import { formatDateTime } from '../lib/format.js';

/** Silence choices offered per rule, in ms (0 ends a silence). */
const SILENCES: readonly (readonly [string, number])[] = [
  ['1 hour', 3_600_000],
  ['8 hours', 8 * 3_600_000],
  ['1 day', 86_400_000],
  ['1 week', 7 * 86_400_000],
];

/**
 * Alerts (admins): what is firing now, the notification channels (secrets are write-only: the
 * form sends them, the server says only which are set), the rules with their thresholds, and the
 * delivery history, updated live from `alerts:firing` and `alerts:delivery`.
 */
export class AlertsPage extends Component<AppContext> {
  private channels: ChannelView[] = [];
  private rules: AlertRule[] = [];
  private firing: FiringAlert[] = [];
  private history: DeliveryView[] = [];
  /** The channel the edit form is open for. */
  private editing: ChannelView | null = null;
  /** Rule rows keep what an admin typed until the rule itself (or the channel list) changes. */
  private ruleRows: KeyedList<AlertRule> | null = null;

  protected override render(): HTMLElement {
    const table = (label: string, heads: string[], cls: string) =>
      h('section', { class: 'card table-wrap', 'aria-label': label }, h('h2', null, label), h('table', { class: `table ${cls}` }, h('thead', null, h('tr', null, heads.map((t) => h('th', { scope: 'col' }, t)))), h('tbody')));
    return h(
      'div',
      { class: 'page', 'data-page': 'alerts' },
      h('p', { class: 'problem form-problem', role: 'alert' }),
      table('Firing now', ['Rule', 'Subject', 'Since', 'What', ''], 'alerts-firing'),
      table('Channels', ['Name', 'Kind', 'Status', 'Secrets set', ''], 'alerts-channels'),
      h(
        'form',
        { class: 'card alerts-channel-form', novalidate: true, 'aria-label': 'Add a channel' },
        h('h2', null, 'Add a channel'),
        h(
          'div',
          { class: 'form-grid' },
          h('div', { class: 'field' }, h('label', { for: 'channel-name' }, 'Name'), h('input', { id: 'channel-name', name: 'name', required: true, maxlength: 80 })),
          h('div', { class: 'field' }, h('label', { for: 'channel-kind' }, 'Kind'), h('select', { id: 'channel-kind', name: 'kind' }, Object.values(ChannelKind).map((k) => h('option', { value: k }, k)))),
        ),
        h('div', { class: 'form-grid channel-fields' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add channel')),
      ),
      h(
        'form',
        { class: 'card alerts-channel-edit', novalidate: true, 'aria-label': 'Edit channel', hidden: true },
        h('h2', null, 'Edit channel ', h('span', { class: 'edit-kind muted' })),
        h(
          'div',
          { class: 'form-grid' },
          h('div', { class: 'field' }, h('label', { for: 'edit-channel-name' }, 'Name'), h('input', { id: 'edit-channel-name', name: 'name', required: true, maxlength: 80 })),
          h('div', { class: 'field' }, h('label', null, h('input', { type: 'checkbox', name: 'enabled' }), ' Enabled')),
        ),
        h('p', { class: 'hint muted' }, 'Secrets are never shown: leave a secret empty to keep the stored one.'),
        h('div', { class: 'form-grid edit-fields' }),
        h('p', { class: 'problem', role: 'alert' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Save channel'), h('button', { type: 'button', class: 'button', 'data-action': 'cancel-edit' }, 'Cancel')),
      ),
      table('Rules', ['On', 'Rule', 'Threshold', 'For (s)', 'Repeat (min)', 'Notify (none checked: every enabled channel)', ''], 'alerts-rules'),
      h(
        'form',
        { class: 'card alerts-custom-rule', novalidate: true, 'aria-label': 'Add a custom rule' },
        h('h2', null, 'Add a custom rule'),
        h('p', { class: 'hint muted' }, 'Watches any stored metrics series, such as cpu.usagePct or model.<id>.genTokensPerSec.'),
        h(
          'div',
          { class: 'form-grid' },
          h('div', { class: 'field' }, h('label', { for: 'rule-series' }, 'Series'), h('input', { id: 'rule-series', name: 'series', required: true, maxlength: 600, placeholder: 'cpu.usagePct' })),
          h('div', { class: 'field' }, h('label', { for: 'rule-comparison' }, 'When it is'), h('select', { id: 'rule-comparison', name: 'comparison' }, h('option', { value: 'above' }, 'above'), h('option', { value: 'below' }, 'below'))),
          h('div', { class: 'field' }, h('label', { for: 'rule-threshold' }, 'Threshold'), h('input', { id: 'rule-threshold', name: 'threshold', type: 'number', step: 'any', required: true })),
          h('div', { class: 'field' }, h('label', { for: 'rule-for' }, 'For at least (s)'), h('input', { id: 'rule-for', name: 'for', type: 'number', min: 0, value: '0' })),
          h('div', { class: 'field' }, h('label', { for: 'rule-repeat' }, 'Repeat every (min, 0: once)'), h('input', { id: 'rule-repeat', name: 'repeat', type: 'number', min: 0, value: '0' })),
          h('div', { class: 'field' }, h('label', { for: 'rule-name' }, 'Name (optional)'), h('input', { id: 'rule-name', name: 'name', maxlength: 120 })),
        ),
        h('fieldset', { class: 'custom-rule-channels' }),
        h('p', { class: 'problem', role: 'alert' }),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Add rule')),
      ),
      table('Delivery history', ['Time', 'Event', 'Rule', 'Subject', 'Channel', 'Status', 'Attempts', 'Last error'], 'alerts-history'),
    );
  }

  protected override events(): EventMap {
    return {
      'change #channel-kind': () => this.renderChannelFields(),
      'submit .alerts-channel-form': (e) => {
        e.preventDefault();
        void this.addChannel();
      },
      'click [data-action="test"]': (e) => void this.act(e, (id) => this.props.store.request('alerts:channels:test', { channelId: id }).then(() => this.props.toasts.success('Test message delivered'))),
      'click [data-action="toggle"]': (e) =>
        void this.act(e, async (id) => {
          const channel = this.channels.find((c) => c.id === id);
          await this.props.store.request('alerts:channels:update', { channelId: id, enabled: !(channel?.enabled ?? true) });
        }),
      'click [data-action="delete"]': (e) => void this.act(e, (id) => this.props.store.request('alerts:channels:delete', { channelId: id })),
      'click [data-action="edit-channel"]': (e) => {
        const id = (e.target as HTMLElement).closest('[data-id]')?.getAttribute('data-id');
        const channel = this.channels.find((c) => c.id === id);
        if (channel !== undefined) {
          this.openEdit(channel);
        }
      },
      'click [data-action="cancel-edit"]': () => this.closeEdit(),
      'submit .alerts-channel-edit': (e) => {
        e.preventDefault();
        void this.saveChannel();
      },
      'submit .alerts-custom-rule': (e) => {
        e.preventDefault();
        void this.addRule();
      },
      'click [data-action="save-rule"]': (e) => void this.act(e, (id) => this.saveRule(id)),
      'click [data-action="delete-rule"]': (e) =>
        void this.act(e, async (id) => {
          const rule = this.rules.find((r) => r.id === id);
          if (rule !== undefined && confirm(`Delete the rule "${rule.name}"? Its alerts stop at once.`)) {
            await this.props.store.request('alerts:rules:delete', { ruleId: id });
            this.props.toasts.success(`${rule.name} deleted`);
          }
        }),
      'change [data-action="silence"]': (e) =>
        void this.act(e, async (id) => {
          const ms = Number((e.target as HTMLSelectElement).value);
          await this.props.store.request('alerts:rules:silence', { ruleId: id, durationMs: ms });
        }),
    };
  }

  protected override onMount(): void {
    this.ruleRows = new KeyedList(this.body('alerts-rules'), (r) => r.id, (r) => this.ruleRow(r));
    this.renderChannelFields();
    this.own(
      this.props.store.subscribe('alertsFiring', (firing) => {
        if (firing !== null) {
          this.firing = firing;
          this.renderFiring();
        }
      }),
    );
    this.own(
      this.props.store.subscribe('alertDelivery', (delivery) => {
        if (delivery !== null) {
          this.history = upsertDelivery(this.history, delivery);
          this.renderHistory();
          // Channel health follows its deliveries.
          void this.reload(false);
        }
      }),
    );
    void this.reload(true);
  }

  private async reload(withHistory: boolean): Promise<void> {
    try {
      const data = await this.props.store.request('alerts:get', {});
      if (this.isDestroyed) {
        return;
      }
      this.channels = data.channels;
      this.rules = data.rules;
      this.firing = data.firing;
      if (this.editing !== null) {
        // Keep the form open on the latest view (which secrets are set), or close it when the channel is gone.
        const id = this.editing.id;
        this.editing = this.channels.find((c) => c.id === id) ?? null;
        if (this.editing === null) {
          this.closeEdit();
        }
      }
      if (withHistory) {
        this.history = (await this.props.store.request('alerts:history', { limit: 100 })).entries;
      }
      this.problem('');
      this.renderAll();
    } catch (error) {
      this.problem(`Loading alerts: ${errorMessage(error)}`);
    }
  }

  /** Runs a row action with the row's id; reloads after, reports an error as a toast. */
  private async act(e: Event, fn: (id: string) => Promise<unknown>): Promise<void> {
    const id = (e.target as HTMLElement).closest('[data-id]')?.getAttribute('data-id');
    if (id === null || id === undefined) {
      return;
    }
    try {
      await fn(id);
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
    await this.reload(false);
  }

  private async addChannel(): Promise<void> {
    const form = find<HTMLFormElement>(this.el, '.alerts-channel-form');
    const kind = (form.elements.namedItem('kind') as HTMLSelectElement).value as ChannelKind;
    const values = fieldValues(form, kind);
    const name = (form.elements.namedItem('name') as HTMLInputElement).value.trim();
    try {
      await this.props.store.request('alerts:channels:create', { name, enabled: true, config: channelPatch(kind, values) });
      form.reset();
      this.renderChannelFields();
      this.props.toasts.success(`Channel ${name} added`);
      await this.reload(false);
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
  }

  private openEdit(channel: ChannelView): void {
    this.editing = channel;
    const form = find<HTMLFormElement>(this.el, '.alerts-channel-edit');
    (form.elements.namedItem('name') as HTMLInputElement).value = channel.name;
    (form.elements.namedItem('enabled') as HTMLInputElement).checked = channel.enabled;
    setText(find(form, '.edit-kind'), `(${channel.kind})`);
    setText(find(form, '.problem'), '');
    const values = channelFormValues(channel);
    replaceChildren(
      find(form, '.edit-fields'),
      CHANNEL_FIELDS[channel.kind].map((f) => {
        const input = fieldInput(f, `edit-channel-${f.name}`, false);
        const value = values[f.name];
        if (f.secret) {
          input.placeholder = channel.secretsSet.includes(f.name) ? 'set (leave empty to keep)' : 'not set';
        } else if (typeof value === 'boolean') {
          input.checked = value;
        } else {
          input.value = value ?? '';
        }
        return h('div', { class: 'field' }, h('label', { for: input.id }, f.label), input);
      }),
    );
    form.hidden = false;
    (form.elements.namedItem('name') as HTMLInputElement).focus();
  }

  private closeEdit(): void {
    this.editing = null;
    const form = find<HTMLFormElement>(this.el, '.alerts-channel-edit');
    form.hidden = true;
    replaceChildren(find(form, '.edit-fields'));
  }

  private async saveChannel(): Promise<void> {
    const channel = this.editing;
    if (channel === null) {
      return;
    }
    const form = find<HTMLFormElement>(this.el, '.alerts-channel-edit');
    const result = channelUpdate(channel, {
      name: (form.elements.namedItem('name') as HTMLInputElement).value,
      enabled: (form.elements.namedItem('enabled') as HTMLInputElement).checked,
      values: fieldValues(form, channel.kind),
    });
    if (!result.ok) {
      setText(find(form, '.problem'), result.problems.join('; '));
      return;
    }
    setText(find(form, '.problem'), '');
    try {
      await this.props.store.request('alerts:channels:update', result.value);
      this.closeEdit();
      this.props.toasts.success(`Channel ${result.value.name} saved`);
      await this.reload(false);
    } catch (error) {
      setText(find(form, '.problem'), errorMessage(error));
      this.props.toasts.error(errorMessage(error));
    }
  }

  private async addRule(): Promise<void> {
    const form = find<HTMLFormElement>(this.el, '.alerts-custom-rule');
    const text = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement).value;
    const result = customRuleInput({
      name: text('name'),
      series: text('series'),
      comparison: text('comparison'),
      threshold: text('threshold'),
      forSec: text('for'),
      repeatMin: text('repeat'),
      channelIds: checkedChannels(form),
    });
    if (!result.ok) {
      setText(find(form, '.problem'), result.problems.join('; '));
      return;
    }
    setText(find(form, '.problem'), '');
    try {
      const { rule } = await this.props.store.request('alerts:rules:save', { rule: result.value });
      form.reset();
      for (const box of form.querySelectorAll<HTMLInputElement>('input[name="channel"]')) {
        box.checked = false;
      }
      this.props.toasts.success(`Rule ${rule.name} added`);
      await this.reload(false);
    } catch (error) {
      setText(find(form, '.problem'), errorMessage(error));
      this.props.toasts.error(errorMessage(error));
    }
  }

  private async saveRule(id: string): Promise<void> {
    const rule = this.rules.find((r) => r.id === id);
    const row = this.el.querySelector(`.alerts-rules tr[data-id="${CSS.escape(id)}"]`);
    if (rule === undefined || row === null) {
      return;
    }
    const num = (name: string): number => Number(row.querySelector<HTMLInputElement>(`[name="${name}"]`)?.value ?? NaN);
    const params: Record<string, number> = {};
    for (const f of ruleParamFields(rule.params)) {
      params[f.key] = num(`p-${f.key}`);
    }
    const enabled = (row.querySelector('[name="enabled"]') as HTMLInputElement).checked;
    const channelIds = checkedChannels(row);
    await this.props.store.request('alerts:rules:save', { rule: ruleInput(rule, { enabled, forSec: num('for'), repeatMin: num('repeat'), params, channelIds }) });
    this.props.toasts.success(`${rule.name} saved`);
  }

  private renderAll(): void {
    this.renderFiring();
    this.renderChannels();
    this.renderRuleChannels();
    this.ruleRows?.reconcile(this.rules);
    this.renderHistory();
  }

  private body(cls: string): HTMLElement {
    return find(this.el, `.${cls} tbody`);
  }

  private renderFiring(): void {
    replaceChildren(
      this.body('alerts-firing'),
      this.firing.length === 0
        ? h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'Nothing is firing.'))
        : this.firing.map((f) => h('tr', { class: 'firing' }, h('td', null, f.ruleName), h('td', null, f.subject), h('td', null, formatDateTime(f.since)), h('td', null, f.summary), h('td', null, f.silenced ? 'silenced' : ''))),
    );
  }

  private renderChannels(): void {
    replaceChildren(
      this.body('alerts-channels'),
      this.channels.length === 0
        ? h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No channel yet: notifications go nowhere.'))
        : this.channels.map((c) =>
            h(
              'tr',
              { 'data-id': c.id, class: c.health.status === 'failing' ? 'failing' : null },
              h('td', null, c.name),
              h('td', null, c.kind),
              h('td', null, !c.enabled ? 'disabled' : c.health.status === 'failing' ? `failing (${c.health.consecutiveFailures}): ${c.health.lastError ?? ''}` : c.health.status),
              h('td', null, c.secretsSet.join(', ') || '—'),
              h(
                'td',
                { class: 'actions' },
                h('button', { type: 'button', class: 'button', 'data-action': 'test' }, 'Send test'),
                h('button', { type: 'button', class: 'button', 'data-action': 'edit-channel' }, 'Edit'),
                h('button', { type: 'button', class: 'button', 'data-action': 'toggle' }, c.enabled ? 'Disable' : 'Enable'),
                h('button', { type: 'button', class: 'button danger', 'data-action': 'delete' }, 'Delete'),
              ),
            ),
          ),
    );
  }

  /** A rule's row, rebuilt only when the rule or the channels change, so unsaved edits survive a reload. */
  private ruleRow(rule: AlertRule): ListView<AlertRule> {
    const el = h('tr', { 'data-id': rule.id });
    let shown = '';
    const update = (r: AlertRule): void => {
      const next = JSON.stringify([r, this.channels.map((c) => [c.id, c.name])]);
      if (next !== shown) {
        shown = next;
        replaceChildren(el, this.ruleCells(r));
      }
    };
    update(rule);
    return { el, update, destroy: () => {} };
  }

  private ruleCells(r: AlertRule): HTMLElement[] {
    const now = Date.now();
    return [
      h('td', null, h('input', { type: 'checkbox', name: 'enabled', checked: r.enabled, 'aria-label': `${r.name} on` })),
      h('td', null, r.name, r.silencedUntil !== null && r.silencedUntil > now ? h('span', { class: 'muted' }, ` (silenced until ${formatDateTime(r.silencedUntil)})`) : null),
      h(
        'td',
        null,
        ruleParamFields(r.params).map((f) =>
          h('label', { class: 'inline' }, `${f.label} `, h('input', { type: 'number', name: `p-${f.key}`, value: String(f.value), step: 'any', class: 'narrow' }), ` ${f.unit} `),
        ),
      ),
      h('td', null, h('input', { type: 'number', name: 'for', min: 0, value: String(r.forMs / 1000), class: 'narrow', 'aria-label': 'for at least, seconds' })),
      h('td', null, h('input', { type: 'number', name: 'repeat', min: 0, value: String(r.repeatMs / 60_000), class: 'narrow', 'aria-label': 'repeat every, minutes' })),
      h('td', { class: 'rule-channels' }, this.channelBoxes(r.channelIds, `${r.name}: notify`)),
      h(
        'td',
        { class: 'actions' },
        h('button', { type: 'button', class: 'button', 'data-action': 'save-rule' }, 'Save'),
        h('select', { 'data-action': 'silence', 'aria-label': `Silence ${r.name}` }, h('option', { value: '', disabled: true, selected: true }, 'Silence…'), SILENCES.map(([label, ms]) => h('option', { value: String(ms) }, label)), h('option', { value: '0' }, 'Unsilence')),
        r.params.kind === 'custom' ? h('button', { type: 'button', class: 'button danger', 'data-action': 'delete-rule' }, 'Delete') : null,
      ),
    ];
  }

  /** One check box per channel (`name="channel"`); none checked: every enabled channel. */
  private channelBoxes(checked: readonly string[], label: string): (HTMLElement | string)[] {
    if (this.channels.length === 0) {
      return [h('span', { class: 'muted' }, 'no channel yet')];
    }
    return this.channels.map((c) =>
      h('label', { class: 'inline' }, h('input', { type: 'checkbox', name: 'channel', value: c.id, checked: checked.includes(c.id), 'aria-label': `${label} ${c.name}` }), ` ${c.name} `),
    );
  }

  /** The custom rule form's channel boxes, keeping what is checked. */
  private renderRuleChannels(): void {
    const box = find(this.el, '.custom-rule-channels');
    replaceChildren(box, h('legend', null, 'Notify (none checked: every enabled channel)'), this.channelBoxes(checkedChannels(box), 'New rule: notify'));
  }

  private renderHistory(): void {
    replaceChildren(
      this.body('alerts-history'),
      this.history.map((d) =>
        h(
          'tr',
          { class: d.status },
          h('td', null, formatDateTime(d.ts)),
          h('td', null, d.event),
          h('td', null, d.ruleName),
          h('td', null, d.subject),
          h('td', null, d.channelName),
          h('td', null, d.status),
          h('td', null, String(d.attempts)),
          h('td', null, d.lastError ?? ''),
        ),
      ),
    );
  }

  /** The inputs of the chosen kind; secret ones are password fields and start empty. */
  private renderChannelFields(): void {
    const kind = find<HTMLSelectElement>(this.el, '#channel-kind').value as ChannelKind;
    replaceChildren(
      find(this.el, '.channel-fields'),
      CHANNEL_FIELDS[kind].map((f) => h('div', { class: 'field' }, h('label', { for: `channel-${f.name}` }, f.label), fieldInput(f, `channel-${f.name}`, f.required))),
    );
  }

  private problem(text: string): void {
    setText(find(this.el, '.problem'), text);
  }
}

/** A channel field's input (`name="f-<field>"`); a secret one is a password field. */
function fieldInput(f: ChannelField, id: string, required: boolean): HTMLInputElement {
  return h('input', {
    id,
    name: `f-${f.name}`,
    type: f.type === 'checkbox' ? 'checkbox' : f.secret ? 'password' : f.type === 'number' ? 'number' : 'text',
    autocomplete: f.secret ? 'new-password' : 'off',
    required,
  });
}

/** The values of a form's channel fields for `kind`, as typed. */
function fieldValues(form: HTMLFormElement, kind: ChannelKind): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const field of CHANNEL_FIELDS[kind]) {
    const input = form.elements.namedItem(`f-${field.name}`) as HTMLInputElement | null;
    values[field.name] = field.type === 'checkbox' ? input?.checked === true : (input?.value ?? '');
  }
  return values;
}

/** The ids of the channel boxes checked inside `root`. */
function checkedChannels(root: ParentNode): string[] {
  return [...root.querySelectorAll<HTMLInputElement>('input[name="channel"]:checked')].map((i) => i.value);
}
