import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ActivityRecord, BroadcastEnvelope, OpenAiErrorBody } from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import {
  expectError,
  expectOk,
  freePort,
  signIn,
  startLlamaRouter,
  startService,
  TestClient,
  waitFor,
  waitForModelStatus,
  type LlamaRouter,
  type ManagedProcess,
} from '@llamaproxy/tests/harness';

/**
 * The `/v1` endpoint on two real gateway replicas (one Redis, one SQLite file) in front of one
 * real llama-server router: a key revoked through one replica fails at once on the other, and
 * the activity of a request served by one replica is pushed live to the dashboards connected to
 * the other, to admins all of it, to a user only their own; the capture buffer turned on through
 * one replica keeps what the other serves, and never logs it.
 */
describe('the /v1 endpoint on two gateway replicas', () => {
  const redisUrl = `${inject('redisUrl')}/13`;
  const ADMIN = { username: 'replica-admin', password: 'correct horse battery' };
  const OPERATOR = { username: 'replica-op', password: 'operator-password-1' };
  const VIEWER = { username: 'replica-viewer', password: 'viewer-password-1' };
  let dir: string;
  let modelsDir: string;
  let router: LlamaRouter;
  const replicas: ManagedProcess[] = [];
  /** Every line the two gateways wrote (stdout and stderr). */
  const output: string[] = [];
  const urls: string[] = [];
  const clients: TestClient[] = [];
  let admin: TestClient;
  let operator: TestClient;
  let viewer: TestClient;
  const keys = { admin: '', adminId: '', operator: '', operatorId: '' };

  const v1 = (replica: number, path: string, key: string, body?: unknown): Promise<Response> =>
    fetch(`${urls[replica]}/v1${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const pushed = (client: TestClient): ActivityRecord[] =>
    client.received.filter((r) => r.event === 'activity:new').flatMap((r) => (r.payload as BroadcastEnvelope<'activity:new'>).data.records);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-v1-replicas-'));
    modelsDir = join(dir, 'models');
    await writeDemoModels(modelsDir, { count: 1 });
    router = await startLlamaRouter({ modelsDir });
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    for (const name of ['v1-a', 'v1-b']) {
      const port = await freePort();
      const proc = startService('gateway', {
        AUTH_MODE: 'local',
        ADMIN_USERNAME: ADMIN.username,
        ADMIN_PASSWORD: ADMIN.password,
        REDIS_URL: redisUrl,
        DATA_DIR: join(dir, 'data'),
        GATEWAY_PORT: String(port),
        GATEWAY_HOST: '127.0.0.1',
        GATEWAY_REPLICA_ID: name,
        SUPERVISOR_NODE_ID: 'v1-node',
        LLAMA_SERVER_URL: router.url,
        API_KEYS_SELF_SERVICE: 'true',
        LOG_LEVEL: 'debug',
      });
      proc.onLine((line) => output.push(line));
      replicas.push(proc);
      urls.push(`http://127.0.0.1:${port}`);
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.ok === true, { timeoutMs: 30_000, what: `${name} ready` });
    }
    const connect = async (cookie: string): Promise<TestClient> => {
      const client = await TestClient.connect(urls[0]!, undefined, { cookie });
      clients.push(client);
      return client;
    };
    admin = await connect(await signIn(urls[0]!, ADMIN.username, ADMIN.password));
    expectOk(await admin.request('users:create', { ...OPERATOR, role: 'operator' }));
    // Signed in through the other replica: sessions live in the shared database.
    operator = await connect(await signIn(urls[1]!, OPERATOR.username, OPERATOR.password));
    expectOk(await admin.request('users:create', { ...VIEWER, role: 'viewer' }));
    viewer = await connect(await signIn(urls[0]!, VIEWER.username, VIEWER.password));
    const adminKey = expectOk(await admin.request('apikeys:create', { name: 'admin key' }));
    keys.admin = adminKey.secret;
    keys.adminId = adminKey.key.id;
    const own = expectOk(await operator.request('apikeys:create', { name: 'operator key' }));
    keys.operator = own.secret;
    keys.operatorId = own.key.id;
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) {
      client.close();
    }
    await Promise.all(replicas.map((r) => r.stop()));
    await router?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes the activity of a request on replica B to the dashboards on replica A: admins all, a user their own', async () => {
    // An unknown model: answered (404) and recorded without loading anything.
    expect((await v1(1, '/chat/completions', keys.operator, { model: 'no-such-model', messages: [] })).status).toBe(404);
    const mine = await waitFor(() => pushed(operator).find((r) => r.keyName === 'operator key'), { timeoutMs: 10_000, what: 'the operator\'s own record pushed' });
    expect(mine).toMatchObject({ username: OPERATOR.username, model: 'no-such-model', status: 404, endpoint: '/chat/completions' });
    await waitFor(() => pushed(admin).find((r) => r.id === mine.id), { timeoutMs: 10_000, what: 'the operator\'s record pushed to the admin' });

    expect((await v1(1, '/chat/completions', keys.admin, { model: 'no-such-model', messages: [] })).status).toBe(404);
    const adminsOwn = await waitFor(() => pushed(admin).find((r) => r.keyName === 'admin key'), { timeoutMs: 10_000, what: 'the admin\'s record pushed' });
    // A later request of the operator's arrives; the admin's, stored before it, never did.
    expect((await v1(1, '/chat/completions', keys.operator, { model: 'no-such-model-2', messages: [] })).status).toBe(404);
    await waitFor(() => pushed(operator).find((r) => r.model === 'no-such-model-2'), { timeoutMs: 10_000, what: 'the operator\'s second record pushed' });
    expect(pushed(operator).map((r) => r.id)).not.toContain(adminsOwn.id);
    expect(new Set(pushed(operator).map((r) => r.username))).toEqual(new Set([OPERATOR.username]));
    // Each pushed once.
    const ids = pushed(admin).map((r) => r.id);
    expect(ids).toHaveLength(new Set(ids).size);
  });

  it('a key revoked through replica A fails at once on replica B', async () => {
    expect((await v1(1, '/models', keys.operator)).status).toBe(200);
    expectOk(await operator.request('apikeys:revoke', { keyId: keys.operatorId }));
    const refused = await v1(1, '/models', keys.operator);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as OpenAiErrorBody).error.code).toBe('invalid_api_key');
    // The admin's key is untouched.
    expect((await v1(1, '/models', keys.admin)).status).toBe(200);
  });

  it('lets a viewer manage their own keys only, with API_KEYS_SELF_SERVICE, and audits it', async () => {
    // The operator's family stays closed to a viewer; the own-records family is open.
    expectError(await viewer.request('apikeys:create', { name: 'not mine to make' }), 'FORBIDDEN');
    const { key, secret } = expectOk(await viewer.request('apikeys:own:create', { name: 'viewer key', models: ['tiny-llama-a'] }));
    expect(key).toMatchObject({ username: VIEWER.username, models: ['tiny-llama-a'], source: 'database' });
    expect(expectOk(await viewer.request('apikeys:list', {}))).toMatchObject({ selfService: true, keys: [expect.objectContaining({ id: key.id })] });
    expect((await v1(1, '/models', secret)).status).toBe(200);
    // Another user's key is not the viewer's to revoke, and is left working.
    expectError(await viewer.request('apikeys:own:revoke', { keyId: keys.adminId }), 'API_KEY_NOT_FOUND');
    expect((await v1(1, '/models', keys.admin)).status).toBe(200);
    expectOk(await viewer.request('apikeys:own:revoke', { keyId: key.id }));
    expect((await v1(1, '/models', secret)).status).toBe(401);

    const audit = expectOk(await admin.request('audit:query', { event: 'apikeys:own:', limit: 50 })).entries;
    expect(audit.map((e) => [e.event, e.username, e.outcome, e.errorCode]).reverse()).toEqual([
      ['apikeys:own:create', VIEWER.username, 'ok', null],
      ['apikeys:own:revoke', VIEWER.username, 'error', 'API_KEY_NOT_FOUND'],
      ['apikeys:own:revoke', VIEWER.username, 'ok', null],
    ]);
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it('keeps prompts and outputs while an admin has capture on (set on A, served by B), shows them on request, audited, never logged', async () => {
    const load = await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model: 'tiny-llama-a' }) });
    expect(load.status).toBe(200);
    await waitForModelStatus(router.url, 'tiny-llama-a', 'loaded');
    const PROMPT = 'capture me please 7f3a';
    const chat = { model: 'tiny-llama-a', messages: [{ role: 'user', content: PROMPT }], max_tokens: 8, temperature: 0, stream: true };
    const lastPushed = async (): Promise<ActivityRecord> => {
      const before = pushed(admin).length;
      return waitFor(() => pushed(admin).slice(before).find((r) => r.endpoint === '/chat/completions' && r.status === 200), { timeoutMs: 10_000, what: 'the chat\'s record pushed' });
    };

    // Off by default: nothing kept.
    expect(expectOk(await admin.request('capture:get', {}))).toEqual({ settings: { enabled: false, maxRequests: 20, maxBytes: 65_536 }, stored: 0 });
    const before = lastPushed();
    expect((await v1(1, '/chat/completions', keys.admin, chat)).status).toBe(200);
    expect(expectOk(await admin.request('capture:view', { activityId: (await before).id })).capture).toBeNull();

    expectOk(await admin.request('capture:update', { enabled: true, maxRequests: 2, maxBytes: 4096 }));
    const next = lastPushed();
    const res = await v1(1, '/chat/completions', keys.admin, chat);
    const answer = await res.text();
    const record = await next;
    const { capture } = expectOk(await admin.request('capture:view', { activityId: record.id }));
    expect(capture).not.toBeNull();
    expect(JSON.parse(capture!.request)).toEqual(chat);
    expect(capture!.response).toBe(answer);
    expect(capture).toMatchObject({ requestTruncated: false, responseTruncated: false });
    // Admins only.
    expectError(await operator.request('capture:view', { activityId: record.id }), 'FORBIDDEN');
    expect(expectOk(await admin.request('capture:get', {})).stored).toBe(1);

    // Off deletes what was kept.
    expect(expectOk(await admin.request('capture:update', { enabled: false })).stored).toBe(0);
    expect(expectOk(await admin.request('capture:view', { activityId: record.id })).capture).toBeNull();

    const audit = expectOk(await admin.request('audit:query', { event: 'capture:', limit: 50 })).entries.reverse();
    expect(audit.map((e) => [e.event, e.username, e.target, e.outcome])).toEqual([
      ['capture:view', ADMIN.username, String((await before).id), 'ok'],
      ['capture:update', ADMIN.username, null, 'ok'],
      ['capture:view', ADMIN.username, String(record.id), 'ok'],
      ['capture:view', OPERATOR.username, String(record.id), 'denied'],
      ['capture:update', ADMIN.username, null, 'ok'],
      ['capture:view', ADMIN.username, String(record.id), 'ok'],
    ]);
    expect(output.length).toBeGreaterThan(0);
    expect(output.filter((line) => line.includes(PROMPT))).toEqual([]);
  });
});
