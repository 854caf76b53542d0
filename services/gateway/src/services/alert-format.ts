import { createHmac } from 'node:crypto';
import { WEBHOOK_SIGNATURE_HEADER, type AlertMessage, type ChannelConfig } from '@llamaproxy/shared';

/** One HTTP request to make: what every HTTP channel kind turns a message into. */
export interface HttpDelivery {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** One e-mail to send. */
export interface MailDelivery {
  from: string;
  to: string[];
  subject: string;
  text: string;
}

export type Delivery = { kind: 'http'; request: HttpDelivery } | { kind: 'mail'; mail: MailDelivery };

/** The title of a message: `[FIRING] Model failed to load: node-1/tiny`. */
export function alertTitle(event: AlertMessage['event'], ruleName: string, subject: string): string {
  const tag = event === 'resolved' ? 'RESOLVED' : event === 'test' ? 'TEST' : 'FIRING';
  return `[${tag}] ${ruleName}: ${subject}`;
}

/**
 * What one channel is sent for one message, in that service's format. Pure (the clock and the
 * secrets come in), so each format is tested without a network.
 */
export function formatDelivery(config: ChannelConfig, message: AlertMessage): Delivery {
  const json = (url: string, body: unknown, headers: Record<string, string> = {}): Delivery => ({
    kind: 'http',
    request: { url, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) },
  });
  const link = message.dashboardUrl === null ? '' : `\n${message.dashboardUrl}`;
  switch (config.kind) {
    case 'webhook': {
      const body = JSON.stringify(message);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (config.secrets.secret !== undefined && config.secrets.secret !== '') {
        headers[WEBHOOK_SIGNATURE_HEADER] = webhookSignature(config.secrets.secret, body);
      }
      return { kind: 'http', request: { url: config.secrets.url, headers, body } };
    }
    case 'ntfy': {
      const headers: Record<string, string> = {
        'content-type': 'text/plain; charset=utf-8',
        // ntfy reads these headers as ASCII (RFC 2047 for anything else); the title is kept ASCII.
        title: asciiHeader(message.title),
        priority: String(message.event === 'resolved' ? Math.min(3, config.settings.priority) : config.settings.priority),
        tags: message.event === 'resolved' ? 'white_check_mark' : message.event === 'test' ? 'test_tube' : 'rotating_light',
      };
      if (config.secrets.token !== undefined && config.secrets.token !== '') {
        headers.authorization = `Bearer ${config.secrets.token}`;
      }
      return { kind: 'http', request: { url: config.secrets.url, headers, body: `${message.text}${link}` } };
    }
    case 'gotify':
      return json(`${config.secrets.url.replace(/\/+$/, '')}/message`, { title: message.title, message: `${message.text}${link}`, priority: config.settings.priority }, { 'x-gotify-key': config.secrets.token });
    case 'discord':
      return json(config.secrets.url, {
        username: 'Llama Async Proxy',
        embeds: [{ title: message.title.slice(0, 256), description: `${message.text}${link}`.slice(0, 4000), color: message.event === 'resolved' ? 0x2e7d32 : message.event === 'test' ? 0x1565c0 : 0xc62828, timestamp: new Date(message.at).toISOString() }],
        allowed_mentions: { parse: [] },
      });
    case 'slack':
      return json(config.secrets.url, { text: `*${message.title}*\n${message.text}${link}` });
    case 'email':
      return { kind: 'mail', mail: { from: config.settings.from, to: config.settings.to, subject: message.title, text: `${message.text}\n\nRule: ${message.ruleName}\nSubject: ${message.subject}\nAt: ${new Date(message.at).toISOString()}${link}\n` } };
  }
}

/** `sha256=<hex>`: HMAC-SHA256 of the raw body with the channel's shared secret. */
export function webhookSignature(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function asciiHeader(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 250);
}
