import { z } from 'zod';

/**
 * Alerting contracts: notification channels (where a message goes), rules (what is watched), the
 * alerts firing now and the delivery history. Channels' URLs, tokens and passwords are secrets:
 * they are written by admins, stored by the gateway, and never sent back (a view says only which
 * secret fields are set).
 */

export const ChannelKind = {
  webhook: 'webhook',
  ntfy: 'ntfy',
  gotify: 'gotify',
  discord: 'discord',
  slack: 'slack',
  email: 'email',
} as const;
export type ChannelKind = (typeof ChannelKind)[keyof typeof ChannelKind];

const Url = z.string().trim().url().max(2000).refine((u) => /^https?:\/\//i.test(u), 'an http(s) URL');
const Text = (max: number) => z.string().trim().max(max);

/**
 * Each channel kind's settings, split in the fields shown back (`settings`) and the secret ones
 * (`secrets`). `SECRET_FIELDS` lists the latter; they are the only fields an update may omit to
 * keep the stored value.
 */
export const ChannelSettingsSchemas = {
  /** POST of the notification as JSON; with `secret`, an HMAC-SHA256 of the body in `X-LlamaProxy-Signature`. */
  webhook: { settings: z.object({}).strict(), secrets: z.object({ url: Url, secret: Text(512).optional() }).strict() },
  /** `url` is the topic URL (`https://ntfy.sh/my-topic`); `token` an access token, when the server wants one. */
  ntfy: { settings: z.object({ priority: z.number().int().min(1).max(5).default(4) }).strict(), secrets: z.object({ url: Url, token: Text(512).optional() }).strict() },
  /** `url` is the server's base URL; `token` an application token. */
  gotify: { settings: z.object({ priority: z.number().int().min(0).max(10).default(8) }).strict(), secrets: z.object({ url: Url, token: Text(512).min(1) }).strict() },
  discord: { settings: z.object({}).strict(), secrets: z.object({ url: Url }).strict() },
  /** Slack, Mattermost, Rocket.Chat and others that take Slack's incoming-webhook body (`{ text }`). */
  slack: { settings: z.object({}).strict(), secrets: z.object({ url: Url }).strict() },
  email: {
    settings: z
      .object({
        host: Text(255).min(1),
        port: z.number().int().min(1).max(65_535).default(587),
        /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
        secure: z.boolean().default(false),
        username: Text(255).optional(),
        from: Text(320).min(3),
        to: z.array(Text(320).min(3)).min(1).max(20),
      })
      .strict(),
    secrets: z.object({ password: Text(512).optional() }).strict(),
  },
} as const;

/** A channel's full configuration (what the gateway stores; never sent to a browser). */
export const ChannelConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('webhook'), settings: ChannelSettingsSchemas.webhook.settings, secrets: ChannelSettingsSchemas.webhook.secrets }),
  z.object({ kind: z.literal('ntfy'), settings: ChannelSettingsSchemas.ntfy.settings, secrets: ChannelSettingsSchemas.ntfy.secrets }),
  z.object({ kind: z.literal('gotify'), settings: ChannelSettingsSchemas.gotify.settings, secrets: ChannelSettingsSchemas.gotify.secrets }),
  z.object({ kind: z.literal('discord'), settings: ChannelSettingsSchemas.discord.settings, secrets: ChannelSettingsSchemas.discord.secrets }),
  z.object({ kind: z.literal('slack'), settings: ChannelSettingsSchemas.slack.settings, secrets: ChannelSettingsSchemas.slack.secrets }),
  z.object({ kind: z.literal('email'), settings: ChannelSettingsSchemas.email.settings, secrets: ChannelSettingsSchemas.email.secrets }),
]);
export type ChannelConfig = z.infer<typeof ChannelConfigSchema>;

/**
 * A channel as an update sends it: `secrets` may leave out any field to keep the stored value
 * (the browser never has it); an empty string clears an optional one.
 */
export const ChannelConfigPatchSchema = z.object({
  kind: z.enum(ChannelKind),
  settings: z.record(z.string(), z.unknown()).default({}),
  secrets: z.record(z.string(), z.string().max(2000)).default({}),
});
export type ChannelConfigPatch = z.infer<typeof ChannelConfigPatchSchema>;

/** How a channel's deliveries went lately. `failing`: its newest delivery failed for good. */
export interface ChannelHealth {
  status: 'unknown' | 'ok' | 'failing';
  /** Deliveries in a row that failed for good. */
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
}

/** A channel as admins see it: never a secret, only which secret fields are set. */
export interface ChannelView {
  id: string;
  name: string;
  kind: ChannelKind;
  enabled: boolean;
  settings: Record<string, unknown>;
  /** Names of the secret fields that hold a value (`url`, `token`, ...). */
  secretsSet: string[];
  health: ChannelHealth;
  createdAt: number;
  updatedAt: number;
}

export const ChannelIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
export const ChannelNameSchema = z.string().trim().min(1).max(80);

/** The built-in rules (one each) and custom metrics rules (any number). */
export const AlertRuleKind = {
  llamaCrashed: 'llama-crashed',
  llamaRestartLoop: 'llama-restart-loop',
  modelLoadFailed: 'model-load-failed',
  modelCrashed: 'model-crashed',
  nodeSilent: 'node-silent',
  gpuTemperature: 'gpu-temperature',
  gpuMemory: 'gpu-memory',
  memory: 'memory',
  swap: 'swap',
  disk: 'disk',
  requestsWaiting: 'requests-waiting',
  custom: 'custom',
} as const;
export type AlertRuleKind = (typeof AlertRuleKind)[keyof typeof AlertRuleKind];

const Threshold = z.number().finite();
const Pct = z.number().min(0).max(100);
const DurationMs = z.number().int().min(0).max(30 * 86_400_000);

/** Each kind's parameters. */
export const AlertRuleParamsSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('llama-crashed') }),
  /** Fires when llama-server restarted `restarts` times within `windowMs`. */
  z.object({ kind: z.literal('llama-restart-loop'), restarts: z.number().int().min(2).max(1000), windowMs: DurationMs.min(10_000) }),
  z.object({ kind: z.literal('model-load-failed') }),
  z.object({ kind: z.literal('model-crashed') }),
  /** A supervisor or metrics collector not heard from for longer than `silentMs`. */
  z.object({ kind: z.literal('node-silent'), silentMs: DurationMs.min(1000) }),
  z.object({ kind: z.literal('gpu-temperature'), thresholdC: Threshold }),
  z.object({ kind: z.literal('gpu-memory'), thresholdPct: Pct }),
  z.object({ kind: z.literal('memory'), thresholdPct: Pct }),
  z.object({ kind: z.literal('swap'), thresholdPct: Pct }),
  /** `disks`: labels to watch; empty watches every disk the collector reports. */
  z.object({ kind: z.literal('disk'), thresholdPct: Pct, disks: z.array(z.string().max(200)).max(50).default([]) }),
  /** Router requests deferred (waiting for a slot), summed over the loaded models. */
  z.object({ kind: z.literal('requests-waiting'), threshold: Threshold }),
  /** Any stored metrics series (`cpu.usagePct`, `model.<id>.genTokensPerSec`, ...). */
  z.object({ kind: z.literal('custom'), series: z.string().min(1).max(600), comparison: z.enum(['above', 'below']), threshold: Threshold }),
]);
export type AlertRuleParams = z.infer<typeof AlertRuleParamsSchema>;

export const AlertRuleIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/** One rule. Built-in rules have their kind as id; custom ones a generated id. */
export const AlertRuleSchema = z.object({
  id: AlertRuleIdSchema,
  name: z.string().trim().min(1).max(120),
  enabled: z.boolean(),
  /** The condition must hold this long before the alert fires ("for at least"). */
  forMs: DurationMs,
  /** While firing, notify again every this long; 0: once. */
  repeatMs: DurationMs,
  /** Channels to notify; empty: every enabled channel. */
  channelIds: z.array(ChannelIdSchema).max(50),
  /** No notification before this time (epoch ms); null: not silenced. */
  silencedUntil: z.number().nullable(),
  params: AlertRuleParamsSchema,
});
export type AlertRule = z.infer<typeof AlertRuleSchema>;

const builtIn = (name: string, enabled: boolean, forMs: number, params: AlertRuleParams): AlertRule => ({
  id: params.kind,
  name,
  enabled,
  forMs,
  repeatMs: 0,
  channelIds: [],
  silencedUntil: null,
  params,
});

/** The built-in rules as a new database has them (llama-server, model and node failures on, thresholds off). */
export const DEFAULT_ALERT_RULES: readonly AlertRule[] = [
  builtIn('llama-server crashed', true, 0, { kind: 'llama-crashed' }),
  builtIn('llama-server restart loop', true, 0, { kind: 'llama-restart-loop', restarts: 3, windowMs: 10 * 60_000 }),
  builtIn('Model failed to load', true, 0, { kind: 'model-load-failed' }),
  builtIn('Model crashed while loaded', true, 0, { kind: 'model-crashed' }),
  builtIn('Node silent', true, 0, { kind: 'node-silent', silentMs: 2 * 60_000 }),
  builtIn('GPU temperature', false, 2 * 60_000, { kind: 'gpu-temperature', thresholdC: 85 }),
  builtIn('GPU memory', false, 5 * 60_000, { kind: 'gpu-memory', thresholdPct: 95 }),
  builtIn('RAM', false, 5 * 60_000, { kind: 'memory', thresholdPct: 90 }),
  builtIn('Swap', false, 5 * 60_000, { kind: 'swap', thresholdPct: 50 }),
  builtIn('Disk', false, 5 * 60_000, { kind: 'disk', thresholdPct: 90, disks: [] }),
  builtIn('Requests waiting', false, 60_000, { kind: 'requests-waiting', threshold: 8 }),
];

/** An alert firing now: one rule and one subject (a node, a model, a GPU, a disk). */
export interface FiringAlert {
  ruleId: string;
  ruleName: string;
  /** What it is about within the rule (`node-1`, `node-1/tiny-llama-a`, `gpu 0`, ...). */
  subject: string;
  since: number;
  firedAt: number;
  /** What was seen (the cause of a failed load, the value above a threshold). */
  summary: string;
  silenced: boolean;
}

export const AlertEventKind = { firing: 'firing', resolved: 'resolved', repeat: 'repeat', test: 'test' } as const;
export type AlertEventKind = (typeof AlertEventKind)[keyof typeof AlertEventKind];

/** What a channel is sent (webhook body: this, as JSON). */
export const AlertMessageSchema = z.object({
  /** Stable per notification: a receiver may drop a repeat of the same id. */
  id: z.string(),
  event: z.enum(AlertEventKind),
  ruleId: z.string(),
  ruleName: z.string(),
  subject: z.string(),
  title: z.string(),
  text: z.string(),
  /** When the condition started (firing), or ended (resolved); epoch ms. */
  at: z.number(),
  /** The dashboard's own origin, when known, for a link back. */
  dashboardUrl: z.string().nullable(),
});
export type AlertMessage = z.infer<typeof AlertMessageSchema>;

export const DeliveryStatus = { queued: 'queued', retrying: 'retrying', delivered: 'delivered', failed: 'failed' } as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

/** One notification to one channel, as the history shows it. */
export interface DeliveryView {
  id: number;
  ts: number;
  messageId: string;
  event: AlertEventKind;
  ruleId: string;
  ruleName: string;
  subject: string;
  channelId: string;
  channelName: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  updatedAt: number;
}

/** BullMQ queue of notifications (separate from the control queues), shared by every gateway replica. */
export const NOTIFY_QUEUE = 'notifications';

/** Payload of a notification job: the history row, the channel and the message; secrets are read at send time. */
export const NotifyJobSchema = z.object({ deliveryId: z.number().int().positive(), channelId: ChannelIdSchema, message: AlertMessageSchema });
export type NotifyJob = z.infer<typeof NotifyJobSchema>;

/** Header of a webhook's HMAC-SHA256 signature: `sha256=<hex of HMAC(secret, raw body)>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'x-llamaproxy-signature';

/** A rule as an admin saves it: a custom rule without `id` is new; the silence changes through `alerts:rules:silence`. */
export const AlertRuleInputSchema = AlertRuleSchema.omit({ id: true, silencedUntil: true }).extend({ id: AlertRuleIdSchema.optional() });
export type AlertRuleInput = z.infer<typeof AlertRuleInputSchema>;
