import type { AlertRule, AlertRuleInput, AlertRuleParams, ChannelConfigPatch, ChannelKind, ChannelView, DeliveryView } from '@llamaproxy/shared';

/** A form's values made into a request payload, or what is wrong with them (one message per field). */
export type Checked<T> = { ok: true; value: T } | { ok: false; problems: string[] };

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

/** The values an edit form starts with: the channel's non-secret settings; secret fields stay empty. */
export function channelFormValues(channel: Pick<ChannelView, 'kind' | 'settings'>): Record<string, string | boolean> {
  const values: Record<string, string | boolean> = {};
  for (const field of CHANNEL_FIELDS[channel.kind]) {
    const value = channel.settings[field.name];
    if (field.secret) {
      values[field.name] = '';
    } else if (field.type === 'checkbox') {
      values[field.name] = value === true;
    } else if (Array.isArray(value)) {
      values[field.name] = value.map(String).join(', ');
    } else {
      values[field.name] = typeof value === 'string' || typeof value === 'number' ? String(value) : '';
    }
  }
  return values;
}

/**
 * The `alerts:channels:update` payload an edit form describes. An empty secret is left out, so the
 * stored one is kept (the browser never has it); an emptied optional text setting is sent as ''
 * to clear it, since the server merges settings over the stored ones.
 */
export function channelUpdate(
  channel: Pick<ChannelView, 'id' | 'kind'>,
  form: { name: string; enabled: boolean; values: Readonly<Record<string, string | boolean>> },
): Checked<{ channelId: string; name: string; enabled: boolean; config: ChannelConfigPatch }> {
  const name = form.name.trim();
  const problems: string[] = [];
  if (name === '') {
    problems.push('Name: required');
  }
  const config = channelPatch(channel.kind, form.values);
  for (const field of CHANNEL_FIELDS[channel.kind]) {
    if (field.secret || field.required || field.type !== 'text' || field.name in config.settings) {
      continue;
    }
    config.settings[field.name] = '';
  }
  for (const field of CHANNEL_FIELDS[channel.kind]) {
    if (!field.secret && field.required && !(field.name in config.settings)) {
      problems.push(`${field.label}: required`);
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { channelId: channel.id, name, enabled: form.enabled, config } };
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

/**
 * A rule ready for `alerts:rules:save`: what the form changed, the rest as it is. `channelIds`
 * (the boxes checked; none: every enabled channel) replaces the rule's when given.
 */
export function ruleInput(
  rule: AlertRule,
  change: { enabled: boolean; forSec: number; repeatMin: number; params: Record<string, number>; channelIds?: readonly string[] },
): AlertRuleInput {
  return {
    id: rule.id,
    name: rule.name,
    enabled: change.enabled,
    forMs: Math.max(0, Math.round(change.forSec * 1000)),
    repeatMs: Math.max(0, Math.round(change.repeatMin * 60_000)),
    channelIds: [...(change.channelIds ?? rule.channelIds)],
    params: withParamValues(rule.params, change.params),
  };
}

/** What the custom rule form holds (text as typed). */
export interface CustomRuleForm {
  name: string;
  series: string;
  comparison: string;
  threshold: string;
  forSec: string;
  repeatMin: string;
  channelIds: readonly string[];
}

const MAX_DURATION_MS = 30 * 86_400_000;

/** A duration field: empty is 0; otherwise a number of `unitMs` within the server's bounds. */
function duration(text: string, unitMs: number, label: string, problems: string[]): number {
  const trimmed = text.trim();
  const ms = trimmed === '' ? 0 : Math.round(Number(trimmed) * unitMs);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) {
    problems.push(`${label}: a number from 0 to ${MAX_DURATION_MS / unitMs}`);
    return 0;
  }
  return ms;
}

/** A new custom rule (`alerts:rules:save` without id) from the form, or what is wrong with it. */
export function customRuleInput(form: CustomRuleForm): Checked<AlertRuleInput> {
  const problems: string[] = [];
  const series = form.series.trim();
  if (series === '') {
    problems.push('Series: required');
  } else if (series.length > 600) {
    problems.push('Series: at most 600 characters');
  }
  const comparison = form.comparison === 'below' ? 'below' : 'above';
  const threshold = form.threshold.trim() === '' ? NaN : Number(form.threshold);
  if (!Number.isFinite(threshold)) {
    problems.push('Threshold: a number');
  }
  const forMs = duration(form.forSec, 1000, 'For at least (s)', problems);
  const repeatMs = duration(form.repeatMin, 60_000, 'Repeat every (min)', problems);
  if (problems.length > 0) {
    return { ok: false, problems };
  }
  const name = (form.name.trim() || `${series} ${comparison} ${threshold}`).slice(0, 120);
  return {
    ok: true,
    value: { name, enabled: true, forMs, repeatMs, channelIds: [...form.channelIds], params: { kind: 'custom', series, comparison, threshold } },
  };
}

/** The history with one delivery put in place (newest first, by id), at most `max` rows. */
export function upsertDelivery(list: readonly DeliveryView[], delivery: DeliveryView, max = 200): DeliveryView[] {
  const rest = list.filter((d) => d.id !== delivery.id);
  return [delivery, ...rest].sort((a, b) => b.id - a.id).slice(0, max);
}
