import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AlertMessageSchema, RedisKeys, WEBHOOK_SIGNATURE_HEADER, type AlertMessage, type ChannelConfigPatch, type DeliveryView } from '@llamaproxy/shared';
import {
  expectOk,
  freePort,
  HttpReceiver,
  publishToStream,
  SmtpReceiver,
  startService,
  TestClient,
  waitFor,
  type ManagedProcess,
  type ReceivedRequest,
} from '@llamaproxy/tests/harness';
import { llamaStatus, sample } from './fixtures.js';

/**
 * Alerting through two real gateway replicas (one Redis, one database file), real local receivers
 * (an HTTP server for the webhook, ntfy, Gotify, Discord and Slack formats, an SMTP server) and
 * real stream input: the formats and the HMAC signature, a metrics rule's duration, retries with
 * backoff, one delivery per notification whichever replica evaluates, and no secret anywhere.
 */
describe('alerts', () => {
  const redisUrl = `${inject('redisUrl')}/7`;
  const nodeId = 'alert-node';
  const hmacSecret = 'hmac-secret-0f9a';
  const smtpLogin = { username: 'mailer', password: 'smtp-password-77b1' };
  /** Every secret an admin types in: none may come back, be logged or appear in the audit log. */
  const secrets = [hmacSecret, smtpLogin.password, 'hook-path-3c1d', 'topic-9e2a', 'ntfy-token-51c0', 'gotify-token-a8d3', 'discord-4b7e', 'slack-6f02'];
  let dir: string;
  let redis: Redis;
  let http: HttpReceiver;
  let smtp: SmtpReceiver;
  const replicas: ManagedProcess[] = [];
  const output: string[] = [];
  let client: TestClient;
  const channelIds: Record<string, string> = {};

  const paths = {
    webhook: '/webhook/hook-path-3c1d',
    ntfy: '/ntfy/topic-9e2a',
    gotify: '/gotify',
    discord: '/discord/discord-4b7e',
    slack: '/slack/slack-6f02',
  };
  const messages = (path: string): { req: ReceivedRequest; message: AlertMessage }[] =>
    http.delivered(path).map((req) => ({ req, message: AlertMessageSchema.parse(JSON.parse(req.body)) }));
  const history = async (): Promise<DeliveryView[]> => expectOk(await client.request('alerts:history', { limit: 1000 })).entries;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-alerts-'));
    redis = new Redis(redisUrl);
    await redis.flushdb();
    http = await HttpReceiver.start();
    smtp = await SmtpReceiver.start(smtpLogin);
    for (const name of ['alerts-a', 'alerts-b']) {
      const port = await freePort();
      const proc = startService('gateway', {
        AUTH_MODE: 'none',
        REDIS_URL: redisUrl,
        DATA_DIR: dir,
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_REPLICA_ID: name,
        SUPERVISOR_NODE_ID: nodeId,
        ALERTS_EVAL_INTERVAL_MS: '200',
        ALERTS_RETRY_ATTEMPTS: '6',
        ALERTS_RETRY_BACKOFF_MS: '300',
        LOG_LEVEL: 'debug',
      });
      proc.onLine((line) => output.push(line));
      replicas.push(proc);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: `${name} ready` });
      if (client === undefined) {
        client = await TestClient.connect(`http://127.0.0.1:${port}`);
      }
    }
  });

  afterAll(async () => {
    client?.close();
    await Promise.all(replicas.map((r) => r.stop()));
    await http?.close();
    await smtp?.close();
    redis?.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a test message to every channel kind in its format, signs webhooks, and never returns a secret', async () => {
    const configs: Record<string, ChannelConfigPatch> = {
      webhook: { kind: 'webhook', settings: {}, secrets: { url: `${http.url}${paths.webhook}`, secret: hmacSecret } },
      ntfy: { kind: 'ntfy', settings: { priority: 5 }, secrets: { url: `${http.url}${paths.ntfy}`, token: 'ntfy-token-51c0' } },
      gotify: { kind: 'gotify', settings: {}, secrets: { url: `${http.url}${paths.gotify}`, token: 'gotify-token-a8d3' } },
      discord: { kind: 'discord', settings: {}, secrets: { url: `${http.url}${paths.discord}` } },
      slack: { kind: 'slack', settings: {}, secrets: { url: `${http.url}${paths.slack}` } },
      email: {
        kind: 'email',
        settings: { host: smtp.host, port: smtp.smtpPort, secure: false, username: smtpLogin.username, from: 'alerts@llamaproxy.test', to: ['ops@llamaproxy.test'] },
        secrets: { password: smtpLogin.password },
      },
    };
    for (const [name, config] of Object.entries(configs)) {
      const created = expectOk(await client.request('alerts:channels:create', { name, config }));
      channelIds[name] = created.channel.id;
      expect(created.channel.secretsSet.length).toBeGreaterThan(0);
    }
    for (const [name, id] of Object.entries(channelIds)) {
      const tested = expectOk(await client.request('alerts:channels:test', { channelId: id }, 20_000));
      expect(tested.delivery, name).toMatchObject({ status: 'delivered', attempts: 1, event: 'test' });
    }

    const [hook] = http.delivered(paths.webhook);
    expect(hook).toBeDefined();
    expect(AlertMessageSchema.parse(JSON.parse(hook!.body))).toMatchObject({ event: 'test', title: '[TEST] Test: webhook' });
    expect(hook!.headers[WEBHOOK_SIGNATURE_HEADER]).toBe(`sha256=${createHmac('sha256', hmacSecret).update(hook!.body).digest('hex')}`);

    const [ntfy] = http.delivered(paths.ntfy);
    expect(ntfy?.headers).toMatchObject({ title: '[TEST] Test: ntfy', priority: '5', authorization: 'Bearer ntfy-token-51c0' });
    expect(ntfy?.body).toContain('A test message');

    const [gotify] = http.delivered(`${paths.gotify}/message`);
    expect(gotify?.headers['x-gotify-key']).toBe('gotify-token-a8d3');
    expect(JSON.parse(gotify!.body)).toMatchObject({ title: '[TEST] Test: gotify', priority: 8 });

    const [discord] = http.delivered(paths.discord);
    expect((JSON.parse(discord!.body) as { embeds: { title: string }[] }).embeds[0]?.title).toBe('[TEST] Test: discord');
    const [slack] = http.delivered(paths.slack);
    expect((JSON.parse(slack!.body) as { text: string }).text).toContain('[TEST] Test: slack');

    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]).toMatchObject({ from: 'alerts@llamaproxy.test', to: ['ops@llamaproxy.test'], user: 'mailer' });
    expect(smtp.mails[0]?.raw).toMatch(/^Subject: \[TEST\] Test: email/m);

    // What the web app gets back: views with the names of the secret fields, never their values.
    const all = JSON.stringify(expectOk(await client.request('alerts:get', {})));
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
    }
    // A wrong password is a clear failure, stored in the history without the password.
    const badMail = expectOk(await client.request('alerts:channels:update', { channelId: channelIds.email!, config: { kind: 'email', settings: {}, secrets: { password: 'wrong-password-x1' } } }));
    expect(badMail.channel.secretsSet).toEqual(['password']);
    const refused = await client.request('alerts:channels:test', { channelId: channelIds.email! }, 20_000);
    expect(refused.success).toBe(false);
    expect(JSON.stringify(refused)).not.toContain('wrong-password-x1');
    expectOk(await client.request('alerts:channels:update', { channelId: channelIds.email!, enabled: false, config: { kind: 'email', settings: {}, secrets: { password: smtpLogin.password } } }));
    secrets.push('wrong-password-x1');
  });

  it('fires a metrics rule only after its duration, resolves it, and sends each notification once from two replicas', async () => {
    const rule = expectOk(
      await client.request('alerts:rules:save', {
        rule: { name: 'CPU hot', enabled: true, forMs: 2000, repeatMs: 0, channelIds: [channelIds.webhook!], params: { kind: 'custom', series: 'cpu.usagePct', comparison: 'above', threshold: 80 } },
      }),
    ).rule;
    const firstHigh = Date.now();
    let cpu = 95;
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        await publishToStream(redis, RedisKeys.metricsStream, { sample: sample(nodeId, Date.now(), cpu) });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      const ofRule = (event: string) => messages(paths.webhook).filter((m) => m.message.ruleId === rule.id && m.message.event === event);
      const [firing] = await waitFor(() => (ofRule('firing').length > 0 ? ofRule('firing') : undefined), { timeoutMs: 20_000, what: 'the firing notification' });
      // Not before the condition held for 2 s.
      expect(firing!.req.at - firstHigh).toBeGreaterThanOrEqual(2000);
      expect(firing!.message.text).toMatch(/cpu\.usagePct = 95, above 80/);
      expect(firing!.req.headers[WEBHOOK_SIGNATURE_HEADER]).toBe(`sha256=${createHmac('sha256', hmacSecret).update(firing!.req.body).digest('hex')}`);
      const firingList = expectOk(await client.request('alerts:get', {})).firing;
      expect(firingList.map((f) => f.ruleId)).toContain(rule.id);

      cpu = 10;
      await waitFor(() => ofRule('resolved').length > 0, { timeoutMs: 20_000, what: 'the resolved notification' });
      await client.waitForBroadcast('alerts:firing', (e) => !e.data.firing.some((f) => f.ruleId === rule.id));
      publishing = false;
      await publisher;
      // Both deliveries recorded as delivered, once each; the receiver got each message once.
      const rows = (await history()).filter((d) => d.ruleId === rule.id);
      expect(rows.map((d) => `${d.event}:${d.status}`).sort()).toEqual(['firing:delivered', 'resolved:delivered']);
      const ids = messages(paths.webhook).filter((m) => m.message.ruleId === rule.id).map((m) => m.message.id);
      expect(ids).toHaveLength(2);
      expect(new Set(ids).size).toBe(2);
      // Exactly one replica holds the evaluator's lease.
      expect(await redis.get('llamaproxy:alerts:evaluator')).toMatch(/^alerts-[ab]$/);
    } finally {
      publishing = false;
      await publisher;
    }
  });

  it('retries a receiver answering 500 with growing backoff, delivers once it recovers, and logs the failing channel once', async () => {
    let failures = 3;
    http.respond = ({ path }) => (path === paths.webhook && failures-- > 0 ? 500 : 200);
    const failingLogsBefore = output.filter((l) => l.includes('alert channel is failing')).length;
    // A crash reported on the status stream (as the supervisor reports it).
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'llama', nodeId, status: llamaStatus(nodeId, 'running') });
    await waitFor(async () => expectOk(await client.request('llama:status', {})).nodes.length > 0, { timeoutMs: 10_000, what: 'the node known' });
    await publishToStream(redis, RedisKeys.statusStream, {
      kind: 'llama',
      nodeId,
      status: { ...llamaStatus(nodeId, 'crashed'), pid: null, restarts: 1, lastExit: { code: null, signal: 'SIGKILL', at: Date.now(), logTail: [] } },
    });
    const crashFiring = (): ReceivedRequest[] => http.requests.filter((r) => r.path === paths.webhook && r.body.includes('"ruleId":"llama-crashed"') && r.body.includes('"event":"firing"'));
    await waitFor(() => crashFiring().some((r) => r.status === 200), { timeoutMs: 30_000, what: 'the crash alert delivered after the receiver recovered' });
    const attempts = crashFiring();
    expect(attempts.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    // The same message every time, and waits that grow (300, 600, 1200 ms, less scheduling slack).
    expect(new Set(attempts.map((r) => JSON.parse(r.body) as { id: string }).map((m) => m.id)).size).toBe(1);
    const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(250);
    expect(gaps[1]).toBeGreaterThanOrEqual(550);
    expect(gaps[2]).toBeGreaterThanOrEqual(1100);
    expect(JSON.parse(attempts[3]!.body)).toMatchObject({ text: expect.stringContaining('exited (SIGKILL)') });

    const row = await waitFor(async () => (await history()).find((d) => d.ruleId === 'llama-crashed' && d.channelId === channelIds.webhook && d.status === 'delivered'), {
      timeoutMs: 10_000,
      what: 'the delivery recorded',
    });
    expect(row).toMatchObject({ attempts: 4, lastError: expect.stringContaining('HTTP 500') });
    // Every other channel got it at once (the rule names none: every enabled channel).
    expect(http.delivered(paths.slack).some((r) => r.body.includes('SIGKILL'))).toBe(true);
    // The failing spell is logged once, not per attempt, and its end once.
    await waitFor(() => output.some((l) => l.includes('alert channel delivers again')), { timeoutMs: 5000, what: 'the recovery logged' });
    expect(output.filter((l) => l.includes('alert channel is failing')).length - failingLogsBefore).toBe(1);
    const health = expectOk(await client.request('alerts:get', {})).channels.find((c) => c.id === channelIds.webhook);
    expect(health?.health.status).toBe('ok');

    // Running again: resolved.
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'llama', nodeId, status: { ...llamaStatus(nodeId, 'running'), restarts: 1, startedAt: Date.now() } });
    await waitFor(() => http.delivered(paths.webhook).some((r) => r.body.includes('"ruleId":"llama-crashed"') && r.body.includes('"event":"resolved"')), {
      timeoutMs: 20_000,
      what: 'the crash resolved',
    });
  });

  it('silences a rule: nothing is sent while silenced', async () => {
    expectOk(await client.request('alerts:rules:silence', { ruleId: 'llama-crashed', durationMs: 3_600_000 }));
    const before = http.requests.length;
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'llama', nodeId, status: { ...llamaStatus(nodeId, 'crashed'), restarts: 2 } });
    // It is tracked (firing, shown as silenced) but not sent.
    await waitFor(async () => expectOk(await client.request('alerts:get', {})).firing.find((f) => f.ruleId === 'llama-crashed' && f.silenced), { timeoutMs: 10_000, what: 'a silenced firing alert' });
    expect(http.requests.slice(before).filter((r) => r.body.includes('"ruleId":"llama-crashed"'))).toEqual([]);
  });

  it('keeps every secret out of the logs, the broadcasts and the audit log', async () => {
    const audit = expectOk(await client.request('audit:query', { event: 'alerts:', limit: 1000 })).entries;
    expect(audit.length).toBeGreaterThan(0);
    expect(audit.some((e) => e.summary.includes('***'))).toBe(true);
    const haystacks = { logs: output.join('\n'), broadcasts: JSON.stringify(client.received), audit: JSON.stringify(audit) };
    expect(haystacks.logs.length).toBeGreaterThan(1000);
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) {
        expect(text.includes(secret), `${secret} found in ${where}`).toBe(false);
      }
    }
  });
});
