import nodemailer from 'nodemailer';
import type { ChannelConfig } from '@llamaproxy/shared';
import type { Delivery } from '../services/alert-format.js';

/** How long one attempt may take. */
const SEND_TIMEOUT_MS = 10_000;

/**
 * A delivery failed. The message is safe to store and show: it never holds the URL, a token or
 * the password (an HTTP status, an error code, the SMTP server's answer).
 */
export class DeliveryError extends Error {
  /** False for what a retry cannot fix (4xx other than 408/429, a refused login). */
  readonly retryable: boolean;

  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = 'DeliveryError';
    this.retryable = retryable;
  }
}

/** Sends formatted deliveries: HTTP POSTs with fetch, e-mail over SMTP with nodemailer. */
export class NotificationSender {
  async send(config: ChannelConfig, delivery: Delivery): Promise<void> {
    if (delivery.kind === 'http') {
      await this.post(delivery.request.url, delivery.request.headers, delivery.request.body);
      return;
    }
    if (config.kind !== 'email') {
      throw new DeliveryError('an e-mail delivery for a channel that is not e-mail', false);
    }
    await this.mail(config, delivery.mail);
  }

  private async post(url: string, headers: Record<string, string>, body: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers, body, redirect: 'error', signal: AbortSignal.timeout(SEND_TIMEOUT_MS) });
    } catch (err) {
      // undici's message names the URL in some versions; only the error's code is kept.
      throw new DeliveryError(`network error: ${networkCode(err)}`, true);
    }
    // The body is read only to free the connection; a receiver's answer may echo a secret.
    await response.arrayBuffer().catch(() => undefined);
    if (!response.ok) {
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new DeliveryError(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, retryable);
    }
  }

  private async mail(config: Extract<ChannelConfig, { kind: 'email' }>, mail: { from: string; to: string[]; subject: string; text: string }): Promise<void> {
    const { host, port, secure, username } = config.settings;
    const password = config.secrets.password;
    const transport = nodemailer.createTransport({
      host,
      port,
      secure,
      auth: username !== undefined && username !== '' ? { user: username, pass: password ?? '' } : undefined,
      connectionTimeout: SEND_TIMEOUT_MS,
      greetingTimeout: SEND_TIMEOUT_MS,
      socketTimeout: SEND_TIMEOUT_MS,
      // Never log: nodemailer's logger would print the AUTH exchange.
      logger: false,
    });
    try {
      await transport.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text });
    } catch (err) {
      const e = err as { code?: string; responseCode?: number; response?: string };
      const code = e.responseCode;
      // 5xx SMTP answers are permanent (a refused login, an unknown recipient); 4xx and network errors are not.
      const retryable = code === undefined || code < 500;
      const response = typeof e.response === 'string' ? `: ${e.response.replace(password ?? '\u0000', '***').slice(0, 200)}` : '';
      throw new DeliveryError(`SMTP ${code ?? e.code ?? 'error'}${response}`, retryable);
    } finally {
      transport.close();
    }
  }
}

function networkCode(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; name?: unknown } }).cause;
  if (typeof cause?.code === 'string') {
    return cause.code;
  }
  const name = (err as { name?: unknown }).name;
  return name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable';
}
