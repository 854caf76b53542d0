import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_SIGNATURE_HEADER, type AlertMessage, type ChannelConfig } from '@llamaproxy/shared';
import { formatDelivery, webhookSignature } from './alert-format.js';

const message: AlertMessage = {
  id: 'abc',
  event: 'firing',
  ruleId: 'llama-crashed',
  ruleName: 'llama-server crashed',
  subject: 'node-1',
  title: '[FIRING] llama-server crashed: node-1',
  text: 'llama-server on node-1 exited (SIGKILL)',
  at: 1_700_000_000_000,
  dashboardUrl: null,
};

const http = (config: ChannelConfig) => {
  const d = formatDelivery(config, message);
  if (d.kind !== 'http') {
    throw new Error('expected an HTTP delivery');
  }
  return d.request;
};

describe(formatDelivery.name, () => {
  it('webhook: the message as JSON, signed with HMAC-SHA256 of the exact body when a secret is set', () => {
    const req = http({ kind: 'webhook', settings: {}, secrets: { url: 'https://hook.example/x', secret: 's3cret' } });
    expect(JSON.parse(req.body)).toEqual(message);
    const expected = `sha256=${createHmac('sha256', 's3cret').update(req.body).digest('hex')}`;
    expect(req.headers[WEBHOOK_SIGNATURE_HEADER]).toBe(expected);
    expect(http({ kind: 'webhook', settings: {}, secrets: { url: 'https://hook.example/x' } }).headers[WEBHOOK_SIGNATURE_HEADER]).toBeUndefined();
  });

  it('ntfy: plain text body, title and priority headers, bearer token', () => {
    const req = http({ kind: 'ntfy', settings: { priority: 5 }, secrets: { url: 'https://ntfy.example/topic', token: 'tk' } });
    expect(req).toMatchObject({ url: 'https://ntfy.example/topic', body: message.text, headers: { title: message.title, priority: '5', authorization: 'Bearer tk' } });
  });

  it('gotify: POST /message with the app token header', () => {
    const req = http({ kind: 'gotify', settings: { priority: 8 }, secrets: { url: 'https://gotify.example/', token: 'app' } });
    expect(req.url).toBe('https://gotify.example/message');
    expect(req.headers['x-gotify-key']).toBe('app');
    expect(JSON.parse(req.body)).toEqual({ title: message.title, message: message.text, priority: 8 });
  });

  it('discord: an embed, no mentions; slack: text', () => {
    const discord = JSON.parse(http({ kind: 'discord', settings: {}, secrets: { url: 'https://discord.example/api/webhooks/1/x' } }).body) as { embeds: { title: string }[]; allowed_mentions: unknown };
    expect(discord.embeds[0]?.title).toBe(message.title);
    expect(discord.allowed_mentions).toEqual({ parse: [] });
    expect(JSON.parse(http({ kind: 'slack', settings: {}, secrets: { url: 'https://hooks.slack.example/x' } }).body)).toEqual({ text: `*${message.title}*\n${message.text}` });
  });

  it('email: subject is the title, to every recipient', () => {
    const d = formatDelivery({ kind: 'email', settings: { host: 'mail', port: 25, secure: false, from: 'a@b.c', to: ['x@y.z', 'u@v.w'] }, secrets: {} }, message);
    expect(d).toMatchObject({ kind: 'mail', mail: { from: 'a@b.c', to: ['x@y.z', 'u@v.w'], subject: message.title } });
  });
});

describe(webhookSignature.name, () => {
  it('matches a known HMAC-SHA256 vector (RFC 4231 case 2)', () => {
    expect(webhookSignature('Jefe', 'what do ya want for nothing?')).toBe('sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
