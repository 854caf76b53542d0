import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import {
  AlertRuleSchema,
  AppError,
  ChannelConfigSchema,
  ErrorCode,
  type AlertRule,
  type ChannelConfig,
  type ChannelConfigPatch,
  type ChannelView,
} from '@llamaproxy/shared';
import type { AlertChannelRepository } from '../repositories/alert-channel.repository.js';
import type { AlertRuleRepository } from '../repositories/alert-rule.repository.js';

/** A rule as an admin saves it: a custom rule without an id is a new one. */
export type RuleInput = Omit<AlertRule, 'id' | 'silencedUntil'> & { id?: string };

/**
 * Channels and rules as admins edit them. Secrets are merged here: an update that leaves a secret
 * field out keeps the stored value (the browser never had it), an empty string clears it, and
 * the result is checked against the kind's schema. Error messages name fields, never values.
 */
export class AlertConfigService {
  private readonly channels: AlertChannelRepository;
  private readonly rules: AlertRuleRepository;

  constructor(deps: { channels: AlertChannelRepository; rules: AlertRuleRepository }) {
    this.channels = deps.channels;
    this.rules = deps.rules;
  }

  listChannels(): ChannelView[] {
    return this.channels.list();
  }

  createChannel(name: string, enabled: boolean, patch: ChannelConfigPatch): ChannelView {
    return this.channels.create(name, enabled, mergeChannelConfig(null, patch));
  }

  updateChannel(id: string, change: { name?: string; enabled?: boolean; config?: ChannelConfigPatch }): ChannelView {
    const stored = this.channels.get(id);
    if (stored === null) {
      throw new AppError(ErrorCode.ALERT_CHANNEL_NOT_FOUND, 'no such channel');
    }
    const config = change.config === undefined ? stored.config : mergeChannelConfig(stored.config, change.config);
    const view = this.channels.update(id, { name: change.name ?? stored.name, enabled: change.enabled ?? stored.enabled, config });
    if (view === null) {
      throw new AppError(ErrorCode.ALERT_CHANNEL_NOT_FOUND, 'no such channel');
    }
    return view;
  }

  deleteChannel(id: string): void {
    if (!this.channels.delete(id)) {
      throw new AppError(ErrorCode.ALERT_CHANNEL_NOT_FOUND, 'no such channel');
    }
  }

  listRules(): AlertRule[] {
    return this.rules.list();
  }

  /**
   * Saves a rule. A built-in rule keeps its id and kind; a custom rule is of kind `custom` (a new
   * one gets an id). The silence is kept: it changes through `silenceRule` only.
   */
  saveRule(input: RuleInput): AlertRule {
    const existing = input.id === undefined ? null : this.rules.get(input.id);
    if (input.id !== undefined && existing === null) {
      throw new AppError(ErrorCode.ALERT_RULE_NOT_FOUND, `no rule "${input.id}"`);
    }
    if (existing !== null && existing.params.kind !== input.params.kind) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, `rule "${existing.id}" is of kind ${existing.params.kind}`);
    }
    if (existing === null && input.params.kind !== 'custom') {
      throw new AppError(ErrorCode.VALIDATION_FAILED, 'only custom rules can be added; built-in rules are edited');
    }
    const known = new Set(this.channels.list().map((c) => c.id));
    const unknown = input.channelIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new AppError(ErrorCode.ALERT_CHANNEL_NOT_FOUND, `no channel ${unknown.join(', ')}`);
    }
    const rule = AlertRuleSchema.parse({ ...input, id: existing?.id ?? `custom-${randomUUID().slice(0, 8)}`, silencedUntil: existing?.silencedUntil ?? null });
    return this.rules.save(rule);
  }

  deleteRule(id: string): void {
    if (this.rules.isBuiltin(id)) {
      throw new AppError(ErrorCode.ALERT_RULE_NOT_FOUND, 'a built-in rule cannot be deleted; disable it');
    }
    if (!this.rules.delete(id)) {
      throw new AppError(ErrorCode.ALERT_RULE_NOT_FOUND, `no rule "${id}"`);
    }
  }

  /** Silences a rule until `now + durationMs`; 0 ends a silence. */
  silenceRule(id: string, durationMs: number, now = Date.now()): AlertRule {
    const rule = this.rules.get(id);
    if (rule === null) {
      throw new AppError(ErrorCode.ALERT_RULE_NOT_FOUND, `no rule "${id}"`);
    }
    return this.rules.save({ ...rule, silencedUntil: durationMs > 0 ? now + durationMs : null });
  }
}

/**
 * The configuration an update results in: `patch` over `stored` (same kind), secrets omitted from
 * the patch kept, empty ones removed. VALIDATION_FAILED names the fields that are wrong.
 */
export function mergeChannelConfig(stored: ChannelConfig | null, patch: ChannelConfigPatch): ChannelConfig {
  const same = stored !== null && stored.kind === patch.kind ? stored : null;
  const secrets: Record<string, string> = { ...((same?.secrets ?? {}) as Record<string, string>) };
  for (const [key, value] of Object.entries(patch.secrets)) {
    if (value.trim() === '') {
      delete secrets[key];
    } else {
      secrets[key] = value;
    }
  }
  const parsed = ChannelConfigSchema.safeParse({ kind: patch.kind, settings: { ...(same?.settings ?? {}), ...patch.settings }, secrets });
  if (!parsed.success) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, describeIssues(parsed.error));
  }
  return parsed.data;
}

/** "secrets.url: Invalid URL; settings.to: Required": paths and messages, never the values. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ').slice(0, 1000);
}
