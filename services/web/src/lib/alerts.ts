import type { AlertRule, AlertRuleParams, ChannelConfigPatch, ChannelKind, DeliveryView } from '@llamaproxy/shared';

/** One input of the channel form: a secret one is a password field, never filled from the server. */
export interface ChannelField {
  name: string;
  label: string;
  secret: boolean;
  type: 'text' | 'url' | 'number' | 'checkbox' | 'email-list';
  required: boolean;
}

const url = (label: string): ChannelField => ({ name: 'url', label, secret: true, type: 'url', required: true });

/** The form fields of each channel kind (secrets: the URL, tokens, the HMAC secret, the SMTP password). */
export const CHANNEL_FIELDS: Record<ChannelKind, readonly ChannelField[]> = {
  webhook: [url('URL'), { name: 'secret', label: 'HMAC secret (optional)', secret: true, type: 'text', required: false }],
  ntfy: [url('Topic URL'), { name: 'token', label: 'Access token (optional)', secret: true, type: 'text', required: false }, { name: 'priority', label: 'Priority (1-5)', secret: false, type: 'number', required: false }],
  gotify: [url('Server URL'), { name: 'token', label: 'App token', secret: true, type: 'text', required: true }, { name: 'priority', label: 'Priority (0-10)', secret: false, type: 'number', required: false }],
  discord: [url('Webhook URL')],
  slack: [url('Incoming webhook URL')],
  email: [
    { name: 'host', label: 'SMTP host', secret: false, type: 'text', required: true },
    { name: 'port', label: 'Port', secret: false, type: 'number', required: false },
    { name: 'secure', label: 'TLS from the start (port 465)', secret: false, type: 'checkbox', required: false },
    { name: 'username', label: 'User name', secret: false, type: 'text', required: false },
    { name: 'password', label: 'Password', secret: true, type: 'text', required: false },
    { name: 'from', label: 'From', secret: false, type: 'text', required: true },
    { name: 'to', label: 'To (comma separated)', secret: false, type: 'email-list', required: true },
  ],
};

/**
 * The channel configuration a form's values describe: settings and secrets split by field, empty
 * optional values left out (an empty secret on an update keeps the stored one), numbers parsed.
 */
export function channelPatch(kind: ChannelKind, values: Readonly<Record<string, string | boolean>>): ChannelConfigPatch {
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const field of CHANNEL_FIELDS[kind]) {
    const raw = values[field.name];
    if (field.type === 'checkbox') {
      settings[field.name] = raw === true;
      continue;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (text === '') {
      continue;
    }
    if (field.secret) {
      secrets[field.name] = text;
    } else if (field.type === 'number') {
      settings[field.name] = Number(text);
    } else if (field.type === 'email-list') {
      settings[field.name] = text.split(/[,\s]+/).filter((s) => s !== '');
    } else {
      settings[field.name] = text;
    }
  }
  return { kind, settings, secrets };
}

/** The threshold-like parameters of a rule that the rules table lets an admin edit, with units. */
export function ruleParamFields(params: AlertRuleParams): { key: string; label: string; value: number; unit: string }[] {
  switch (params.kind) {
    case 'llama-crashed':
    case 'model-load-failed':
    case 'model-crashed':
      return [];
    case 'llama-restart-loop':
      return [
        { key: 'restarts', label: 'restarts', value: params.restarts, unit: '' },
        { key: 'windowMs', label: 'within', value: params.windowMs / 60_000, unit: 'min' },
      ];
    case 'node-silent':
      return [{ key: 'silentMs', label: 'silent for', value: params.silentMs / 1000, unit: 's' }];
    case 'gpu-temperature':
      return [{ key: 'thresholdC', label: 'above', value: params.thresholdC, unit: '°C' }];
    case 'gpu-memory':
    case 'memory':
    case 'swap':
    case 'disk':
      return [{ key: 'thresholdPct', label: 'above', value: params.thresholdPct, unit: '%' }];
    case 'requests-waiting':
      return [{ key: 'threshold', label: 'above', value: params.threshold, unit: 'requests' }];
    case 'custom':
      return [{ key: 'threshold', label: `${params.series} ${params.comparison}`, value: params.threshold, unit: '' }];
  }
}

/** Parameters with the edited fields put back (in the units `ruleParamFields` shows). */
export function withParamValues(params: AlertRuleParams, values: Readonly<Record<string, number>>): AlertRuleParams {
  const scale: Record<string, number> = { windowMs: 60_000, silentMs: 1000 };
  const next: Record<string, unknown> = { ...params };
  for (const [key, value] of Object.entries(values)) {
    if (Number.isFinite(value)) {
      next[key] = value * (scale[key] ?? 1);
    }
  }
  return next as AlertRuleParams;
}

/** A rule ready for `alerts:rules:save`: what the form changed, the rest as it is. */
export function ruleInput(rule: AlertRule, change: { enabled: boolean; forSec: number; repeatMin: number; params: Record<string, number> }) {
  return {
    id: rule.id,
    name: rule.name,
    enabled: change.enabled,
    forMs: Math.max(0, Math.round(change.forSec * 1000)),
    repeatMs: Math.max(0, Math.round(change.repeatMin * 60_000)),
    channelIds: rule.channelIds,
    params: withParamValues(rule.params, change.params),
  };
}

/** The history with one delivery put in place (newest first, by id), at most `max` rows. */
export function upsertDelivery(list: readonly DeliveryView[], delivery: DeliveryView, max = 200): DeliveryView[] {
  const rest = list.filter((d) => d.id !== delivery.id);
  return [delivery, ...rest].sort((a, b) => b.id - a.id).slice(0, max);
}
