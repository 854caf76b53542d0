import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** One request an HTTP receiver got. */
export interface ReceivedRequest {
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body, as sent (an HMAC signature is over exactly this). */
  body: string;
  /** The status the receiver answered. */
  status: number;
}

/**
 * A local HTTP server standing in for a webhook receiver, ntfy, Gotify, Discord and Slack: it
 * records every request and answers 200, or what `respond` says (a 500 to test retries).
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** The status to answer a request with; 200 unless set. */
  respond: (req: { path: string; body: string }) => number = () => 200;
  private readonly server: Server;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(): Promise<HttpReceiver> {
    const receiver = new HttpReceiver(createServer());
    receiver.server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const path = req.url ?? '/';
        const status = receiver.respond({ path, body });
        receiver.requests.push({ at: Date.now(), method: req.method ?? '', path, headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'application/json' }).end(status < 300 ? '{"ok":true}' : '{"error":"receiver failing"}');
      });
    });
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Requests to `path` (exact, without the query) that were answered with a success. */
  delivered(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path.split('?')[0] === path && r.status < 300);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** One e-mail the SMTP receiver accepted. */
export interface ReceivedMail {
  from: string;
  to: string[];
  /** The user that authenticated, if any. */
  user: string | null;
  raw: string;
}

/** A local SMTP server (nodemailer's `smtp-server`) that accepts every message, with optional login. */
export class SmtpReceiver {
  readonly mails: ReceivedMail[] = [];
  private readonly server: SMTPServer;
  private port = 0;

  private constructor(credentials: { username: string; password: string } | null) {
    this.server = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      authOptional: credentials === null,
      allowInsecureAuth: true,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (credentials !== null && auth.username === credentials.username && auth.password === credentials.password) {
          callback(null, { user: auth.username });
        } else {
          callback(new Error('Invalid username or password'));
        }
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          this.mails.push({
            from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((r) => r.address),
            user: typeof session.user === 'string' ? session.user : null,
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
  }

  static async start(credentials: { username: string; password: string } | null = null): Promise<SmtpReceiver> {
    const receiver = new SmtpReceiver(credentials);
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    receiver.port = (receiver.server.server.address() as AddressInfo).port;
    return receiver;
  }

  get host(): string {
    return '127.0.0.1';
  }

  get smtpPort(): number {
    return this.port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
