import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { expect } from 'vitest';
import { freePort, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

/** A gateway process with its own data directory, started with the given auth environment. */
export class GatewayUnderTest {
  readonly dir = mkdtempSync(join(tmpdir(), 'llamaproxy-auth-'));
  proc!: ManagedProcess;
  port = 0;
  private readonly clients: TestClient[] = [];

  private readonly redisUrl: string;
  private readonly env: Record<string, string>;

  constructor(redisUrl: string, env: Record<string, string>) {
    this.redisUrl = redisUrl;
    this.env = env;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get dbPath(): string {
    return join(this.dir, 'llamaproxy.db');
  }

  async start(): Promise<this> {
    const redis = new Redis(this.redisUrl);
    await redis.flushdb();
    redis.disconnect();
    this.port = await freePort();
    this.proc = startService('gateway', {
      REDIS_URL: this.redisUrl,
      DATA_DIR: this.dir,
      GATEWAY_PORT: String(this.port),
      GATEWAY_HOST: '127.0.0.1',
      SUPERVISOR_NODE_ID: 'auth-node',
      ...this.env,
    });
    await waitFor(async () => {
      if (!this.proc.running) {
        throw new Error(`gateway exited\n${this.proc.tail()}`);
      }
      return (await fetch(`${this.url}/readyz`).catch(() => null))?.ok === true;
    }, { timeoutMs: 30_000, what: 'gateway ready' });
    return this;
  }

  /** Connects a socket with these handshake headers; rejects with the connect_error. */
  async connect(headers: Record<string, string> = {}): Promise<TestClient> {
    const client = await TestClient.connect(this.url, undefined, headers);
    this.clients.push(client);
    return client;
  }

  /** The `connect_error` message (an error code) of a refused handshake. */
  async refusal(headers: Record<string, string> = {}): Promise<string> {
    const err = await this.connect(headers).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err, 'the handshake should have been refused').not.toBeNull();
    return err!.message;
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  }

  closeClients(): void {
    for (const c of this.clients.splice(0)) {
      c.close();
    }
  }

  async stop(): Promise<void> {
    this.closeClients();
    await this.proc?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

