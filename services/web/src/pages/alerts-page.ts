import { ChannelKind, type AlertRule, type ChannelView, type DeliveryView, type FiringAlert } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { find, h, replaceChildren, setText } from '../core/dom.js';
import { errorMessage } from '../core/transport.js';
import { CHANNEL_FIELDS, channelPatch, ruleInput, ruleParamFields, upsertDelivery } from '../lib/alerts.js';
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
      table('Rules', ['On', 'Rule', 'Threshold', 'For (s)', 'Repeat (min)', ''], 'alerts-rules'),
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
      'click [data-action="save-rule"]': (e) => void this.act(e, (id) => this.saveRule(id)),
      'change [data-action="silence"]': (e) =>
        void this.act(e, async (id) => {
          const ms = Number((e.target as HTMLSelectElement).value);
          await this.props.store.request('alerts:rules:silence', { ruleId: id, durationMs: ms });
        }),
    };
  }

  protected override onMount(): void {
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
    const values: Record<string, string | boolean> = {};
    for (const field of CHANNEL_FIELDS[kind]) {
      const input = form.elements.namedItem(`f-${field.name}`) as HTMLInputElement | null;
      values[field.name] = field.type === 'checkbox' ? input?.checked === true : (input?.value ?? '');
    }
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
    await this.props.store.request('alerts:rules:save', { rule: ruleInput(rule, { enabled, forSec: num('for'), repeatMin: num('repeat'), params }) });
    this.props.toasts.success(`${rule.name} saved`);
  }

  private renderAll(): void {
    this.renderFiring();
    this.renderChannels();
    this.renderRules();
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
                h('button', { type: 'button', class: 'button', 'data-action': 'toggle' }, c.enabled ? 'Disable' : 'Enable'),
                h('button', { type: 'button', class: 'button danger', 'data-action': 'delete' }, 'Delete'),
              ),
            ),
          ),
    );
  }

  private renderRules(): void {
    const now = Date.now();
    replaceChildren(
      this.body('alerts-rules'),
      this.rules.map((r) =>
        h(
          'tr',
          { 'data-id': r.id },
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
          h(
            'td',
            { class: 'actions' },
            h('button', { type: 'button', class: 'button', 'data-action': 'save-rule' }, 'Save'),
            h('select', { 'data-action': 'silence', 'aria-label': `Silence ${r.name}` }, h('option', { value: '', disabled: true, selected: true }, 'Silence…'), SILENCES.map(([label, ms]) => h('option', { value: String(ms) }, label)), h('option', { value: '0' }, 'Unsilence')),
          ),
        ),
      ),
    );
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
      CHANNEL_FIELDS[kind].map((f) =>
        h(
          'div',
          { class: 'field' },
          h('label', { for: `channel-${f.name}` }, f.label),
          h('input', {
            id: `channel-${f.name}`,
            name: `f-${f.name}`,
            type: f.type === 'checkbox' ? 'checkbox' : f.secret ? 'password' : f.type === 'number' ? 'number' : 'text',
            autocomplete: f.secret ? 'new-password' : 'off',
            required: f.required,
          }),
        ),
      ),
    );
  }

  private problem(text: string): void {
    setText(find(this.el, '.problem'), text);
  }
}
