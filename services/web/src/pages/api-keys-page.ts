import type { ApiKeyView } from '@llamaproxy/shared';
import { Component, type EventMap } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { field, h, setText, valueOf } from '../core/dom.js';
import { KeyedList } from '../core/keyed-list.js';
import { can } from '../core/permissions.js';
import { errorMessage } from '../core/transport.js';
import { formatDateTime } from '../lib/format.js';

/** One key: name, owner, scope, limits, expiry, last use, and Revoke (not for environment keys). */
class ApiKeyRow extends Component<ApiKeyView> {
  protected override render(): HTMLElement {
    return h(
      'tr',
      { 'data-id': this.props.id },
      h('td', null, h('div', { class: 'name' }), h('code', { class: 'prefix muted' })),
      h('td', { class: 'owner' }),
      h('td', { class: 'scope' }),
      h('td', { class: 'limits hide-narrow' }),
      h('td', { class: 'expires hide-narrow' }),
      h('td', { class: 'used' }),
      h('td', null, h('span', { class: 'badge state' }), h('button', { type: 'button', class: 'button danger small', 'data-action': 'revoke', 'data-key': this.props.id }, 'Revoke')),
    );
  }

  protected override patch(): void {
    const k = this.props;
    const q = (s: string): HTMLElement => this.el.querySelector(s) as HTMLElement;
    setText(q('.name'), k.name);
    setText(q('.prefix'), `${k.prefix}…`);
    setText(q('.owner'), k.source === 'environment' ? 'from the environment' : (k.username ?? '—'));
    setText(q('.scope'), k.models === null ? 'all models' : k.models.join(', '));
    const { requestsPerMinute: rpm, tokensPerMinute: tpm } = k.limits;
    setText(q('.limits'), [rpm === null ? null : `${rpm} req/min`, tpm === null ? null : `${tpm} tok/min`].filter(Boolean).join(', ') || 'none');
    setText(q('.expires'), k.expiresAt === null ? 'never' : formatDateTime(k.expiresAt));
    setText(q('.used'), k.lastUsedAt === null ? 'never' : formatDateTime(k.lastUsedAt));
    const expired = k.expiresAt !== null && k.expiresAt <= Date.now();
    const state = q('.state');
    setText(state, k.revokedAt !== null ? 'revoked' : expired ? 'expired' : 'active');
    state.dataset.tone = k.revokedAt !== null || expired ? 'bad' : 'ok';
    (q('[data-action="revoke"]')).hidden = k.source === 'environment' || k.revokedAt !== null;
  }
}

/**
 * API keys of the OpenAI-compatible endpoint (`<base>v1`): operators manage their own keys,
 * admins everyone's, and with API_KEYS_SELF_SERVICE every signed-in user their own. A new key is shown once, right after it is created; only its hash is kept.
 */
export class ApiKeysPage extends Component<AppContext> {
  private rows!: KeyedList<ApiKeyView>;
  private keys: ApiKeyView[] = [];
  /** How this user manages keys: `all` (operators, admins), `own` (self-service), or not at all. */
  private mode: 'all' | 'own' | null = null;

  protected override render(): HTMLElement {
    const body = h('tbody');
    const endpoint = new URL('v1', document.baseURI).href;
    const page = h(
      'div',
      { class: 'page', 'data-page': 'api-keys' },
      h(
        'section',
        { class: 'card' },
        h('h2', null, 'OpenAI-compatible endpoint'),
        h('p', null, 'Base URL: ', h('code', { class: 'endpoint' }, endpoint)),
        h('pre', { class: 'command' }, `curl ${endpoint}/chat/completions -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"model":"MODEL","messages":[{"role":"user","content":"Hello"}]}'`),
      ),
      h(
        'form',
        { class: 'card api-key-form', novalidate: true, 'aria-label': 'Create an API key', hidden: true },
        h('h2', null, 'New key'),
        h(
          'div',
          { class: 'form-grid' },
          field('Name', h('input', { id: 'key-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off' })),
          field('Models (comma-separated; empty: all)', h('input', { id: 'key-models', name: 'models', autocomplete: 'off', spellcheck: 'false' })),
          field('Expires', h('input', { id: 'key-expires', name: 'expires', type: 'date' })),
          field('Requests per minute', h('input', { id: 'key-rpm', name: 'rpm', type: 'number', min: 1, placeholder: 'no limit' })),
          field('Tokens per minute', h('input', { id: 'key-tpm', name: 'tpm', type: 'number', min: 1, placeholder: 'no limit' })),
        ),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Create key')),
        h('p', { class: 'problem form-problem', role: 'alert' }),
        h(
          'div',
          { class: 'new-key', hidden: true, role: 'status' },
          h('p', null, 'Copy the key now: it is not shown again.'),
          h('code', { class: 'secret' }),
          h('button', { type: 'button', class: 'button', 'data-action': 'copy' }, 'Copy'),
        ),
      ),
      h('p', { class: 'card keys-note muted', hidden: true }, 'Creating keys needs the operator role, unless an admin lets every user manage their own (API_KEYS_SELF_SERVICE).'),
      h(
        'section',
        { class: 'card table-wrap', 'aria-label': 'API keys' },
        h(
          'table',
          { class: 'table api-keys-table' },
          h('thead', null, h('tr', null, ['Key', 'Owner', 'Models', 'Limits', 'Expires', 'Last used', 'State'].map((label) => h('th', { scope: 'col', class: label === 'Limits' || label === 'Expires' ? 'hide-narrow' : null }, label)))),
          body,
        ),
        h('p', { class: 'empty muted' }, 'Loading…'),
      ),
    );
    this.rows = new KeyedList(body, (k) => k.id, (k) => new ApiKeyRow(k));
    this.own(() => this.rows.clear());
    return page;
  }

  protected override events(): EventMap {
    return {
      submit: (e) => {
        e.preventDefault();
        void this.create();
      },
      'click [data-action="revoke"]': (_e, target) => void this.revoke(target.dataset.key ?? ''),
      'click [data-action="copy"]': () => void navigator.clipboard?.writeText(this.el.querySelector('.secret')?.textContent ?? '').then(() => this.props.toasts.success('Key copied')),
    };
  }

  protected override onMount(): void {
    void this.reload();
  }

  private async reload(): Promise<void> {
    try {
      const { keys, selfService } = await this.props.store.request('apikeys:list', {});
      this.keys = keys;
      const identity = this.props.store.get('identity');
      this.mode = can(identity, 'apikeys:create') ? 'all' : selfService && (identity?.user ?? null) !== null ? 'own' : null;
      (this.el.querySelector('.api-key-form') as HTMLElement).hidden = this.mode === null;
      (this.el.querySelector('.keys-note') as HTMLElement).hidden = this.mode !== null;
      this.el.querySelector('.api-keys-table')?.classList.toggle('read-only', this.mode === null);
      this.show();
    } catch (error) {
      this.show(`Loading the keys: ${errorMessage(error)}`);
    }
  }

  private async create(): Promise<void> {
    const form = this.el.querySelector('.api-key-form') as HTMLFormElement;
    const value = (name: string): string => valueOf(form.elements.namedItem(name) as Element).trim();
    const problem = this.el.querySelector('.problem') as HTMLElement;
    const models = value('models').split(',').map((m) => m.trim()).filter((m) => m !== '');
    const expires = value('expires');
    const limit = (name: string): number | null => (value(name) === '' ? null : Number(value(name)));
    try {
      const { key, secret } = await this.props.store.request(this.mode === 'own' ? 'apikeys:own:create' : 'apikeys:create', {
        name: value('name'),
        models: models.length === 0 ? null : models,
        expiresAt: expires === '' ? null : new Date(`${expires}T23:59:59`).getTime(),
        limits: { requestsPerMinute: limit('rpm'), tokensPerMinute: limit('tpm') },
      });
      setText(problem, '');
      setText(this.el.querySelector('.secret') as HTMLElement, secret);
      (this.el.querySelector('.new-key') as HTMLElement).hidden = false;
      form.reset();
      this.keys = [key, ...this.keys];
      this.show();
    } catch (error) {
      setText(problem, errorMessage(error));
    }
  }

  private async revoke(keyId: string): Promise<void> {
    const key = this.keys.find((k) => k.id === keyId);
    if (key === undefined || !window.confirm(`Revoke the key "${key.name}"? Requests with it fail at once.`)) {
      return;
    }
    try {
      const revoked = (await this.props.store.request(this.mode === 'own' ? 'apikeys:own:revoke' : 'apikeys:revoke', { keyId })).key;
      this.keys = this.keys.map((k) => (k.id === keyId ? revoked : k));
      this.show();
      this.props.toasts.success(`Key "${key.name}" revoked`);
    } catch (error) {
      this.props.toasts.error(errorMessage(error));
    }
  }

  private show(problem?: string): void {
    this.rows.reconcile(this.keys);
    const empty = this.el.querySelector('.empty') as HTMLElement;
    empty.hidden = problem === undefined && this.keys.length > 0;
    setText(empty, problem ?? 'No key yet.');
  }
}
