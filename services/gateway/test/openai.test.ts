import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ActivityRecord, OpenAiErrorBody } from '@llamaproxy/shared';
import { demoModels, writeDemoModels } from '@llamaproxy/tests/gguf';
import { expectOk, signIn, startLlamaRouter, waitFor, waitForModelStatus, type LlamaRouter, type TestClient } from '@llamaproxy/tests/harness';
import { GatewayUnderTest } from './auth-fixture.js';

/**
 * The `/v1` endpoint end to end: a real gateway process in front of a real llama-server router
 * with generated models, real Redis and SQLite. Compares what the endpoint answers with what the
 * router answers directly, checks every refusal's status and OpenAI error shape, that a client
 * going away stops the router's work, that a revoked key fails at once, the activity record's
 * token counts, and the official `openai` client.
 */
const redisUrl = (): string => `${inject('redisUrl')}/9`;
const ADMIN = { username: 'api-admin', password: 'correct horse battery' };
const ENV_KEY = 'env-key-0123456789abcdef';
const [MODEL_A, MODEL_B] = demoModels(2).map((m) => m.id) as [string, string];
const CHAT = { messages: [{ role: 'user', content: 'hello there' }], max_tokens: 24, temperature: 0, seed: 42 };

interface ChatBody {
  choices: { message: { content: string } }[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

/** The concatenated `delta.content` of an SSE chat stream. */
function streamedText(sse: string): string {
  return sse
    .split('\n')
    .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
    .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '')
    .join('');
}

describe('the OpenAI-compatible /v1 endpoint', () => {
  let dir: string;
  let router: LlamaRouter;
  let gw: GatewayUnderTest;
  let admin: TestClient;
  let cookie: string;
  /** Keys created through the socket API: every model, only MODEL_A, 2 requests a minute. */
  const keys = { all: '', scoped: '', limited: '' };
  const scopedId = { value: '' };

  const v1 = (path: string, init: { key?: string | null; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> =>
    fetch(`${gw.url}/v1${path}`, {
      method: init.body === undefined ? 'GET' : 'POST',
      headers: {
        'content-type': 'application/json',
        ...(init.key === null ? {} : { authorization: `Bearer ${init.key ?? keys.all}` }),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
      signal: init.signal,
    });

  const expectOpenAiError = async (res: Response, status: number, code: string): Promise<OpenAiErrorBody> => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as OpenAiErrorBody;
    expect(body.error).toMatchObject({ code, type: expect.any(String) as string, message: expect.any(String) as string });
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    return body;
  };

  const activity = async (predicate: (r: ActivityRecord) => boolean): Promise<ActivityRecord> =>
    waitFor(async () => expectOk(await admin.request('activity:query', { limit: 500 })).records.find(predicate), { timeoutMs: 10_000, what: 'activity record' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-v1-'));
    await writeDemoModels(dir, { count: 2 });
    // A larger context than the harness default, so a long generation takes long enough to cancel.
    router = await startLlamaRouter({ modelsDir: dir, modelsMax: 1, extraArgs: ['-c', '4096'] });
    const load = await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model: MODEL_A }) });
    expect(load.status).toBe(200);
    await waitForModelStatus(router.url, MODEL_A, 'loaded');
    gw = await new GatewayUnderTest(redisUrl(), {
      AUTH_MODE: 'local',
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      LLAMA_SERVER_URL: router.url,
      API_KEYS: ENV_KEY,
      API_MAX_BODY_MB: '1',
      API_MODEL_CONCURRENCY: '1',
    }).start();
    cookie = await signIn(gw.url, ADMIN.username, ADMIN.password);
    admin = await gw.connect({ cookie });
    const create = async (name: string, extra: object): Promise<{ secret: string; id: string }> => {
      const { key, secret } = expectOk(await admin.request('apikeys:create', { name, ...extra }));
      return { secret, id: key.id };
    };
    keys.all = (await create('all models', {})).secret;
    const scoped = await create('only a', { models: [MODEL_A] });
    keys.scoped = scoped.secret;
    scopedId.value = scoped.id;
    keys.limited = (await create('two a minute', { limits: { requestsPerMinute: 2, tokensPerMinute: null } })).secret;
  }, 180_000);

  afterAll(async () => {
    admin?.close();
    await gw?.stop();
    await router?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a request without a key or with a wrong one (401, OpenAI error shape)', async () => {
    await expectOpenAiError(await v1('/models', { key: null }), 401, 'missing_api_key');
    await expectOpenAiError(await v1('/models', { key: 'lap-not-a-real-key-at-all-0000000000000000000' }), 401, 'invalid_api_key');
    await expectOpenAiError(await v1('/chat/completions', { key: 'wrong', body: { model: MODEL_A, ...CHAT } }), 401, 'invalid_api_key');
  });

  it('lists the models a key may use, with their state; the environment key sees all', async () => {
    const scoped = (await (await v1('/models', { key: keys.scoped })).json()) as { data: { id: string; status: { value: string } }[] };
    expect(scoped.data.map((m) => m.id)).toEqual([MODEL_A]);
    expect(scoped.data[0]?.status.value).toBe('loaded');
    const env = await v1('/models', { key: ENV_KEY });
    expect(env.status).toBe(200);
    const all = (await env.json()) as { data: { id: string }[] };
    expect(all.data.map((m) => m.id).sort()).toEqual([MODEL_A, MODEL_B]);
    // OpenAI's "retrieve model": one model, within the key's scope.
    const one = (await (await v1(`/models/${MODEL_A}`, { key: keys.scoped })).json()) as { id: string; object: string };
    expect(one).toMatchObject({ id: MODEL_A, object: 'model' });
    await expectOpenAiError(await v1(`/models/${MODEL_B}`, { key: keys.scoped }), 404, 'model_not_found');
    await expectOpenAiError(await v1('/models/no-such-model', { key: ENV_KEY }), 404, 'model_not_found');
  });

  it('answers a chat completion exactly as llama-server does directly, and records its usage', async () => {
    const direct = await fetch(`${router.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL_A, ...CHAT }) });
    expect(direct.status).toBe(200);
    const expected = (await direct.json()) as ChatBody;
    const res = await v1('/chat/completions', { body: { model: MODEL_A, ...CHAT } });
    expect(res.status).toBe(200);
    const got = (await res.json()) as ChatBody;
    expect(got.choices[0]?.message.content).toBe(expected.choices[0]?.message.content);
    expect(got.usage.completion_tokens).toBe(expected.usage.completion_tokens);
    expect(got.usage.completion_tokens).toBeGreaterThan(0);

    const row = await activity((r) => r.endpoint === '/chat/completions' && !r.stream && r.status === 200);
    expect(row).toMatchObject({ model: MODEL_A, keyName: 'all models', username: ADMIN.username, promptTokens: got.usage.prompt_tokens, completionTokens: got.usage.completion_tokens });
    expect(row.ttftMs).toBeGreaterThan(0);
    expect(row.durationMs).toBeGreaterThanOrEqual(row.ttftMs!);
  });

  it('streams the same tokens as llama-server streams directly, chunk by chunk', async () => {
    const body = { model: MODEL_A, ...CHAT, stream: true };
    const direct = await fetch(`${router.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const expected = streamedText(await direct.text());
    const res = await v1('/chat/completions', { body });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const got = streamedText(await res.text());
    expect(got.length).toBeGreaterThan(0);
    expect(got).toBe(expected);
    const row = await activity((r) => r.endpoint === '/chat/completions' && r.stream && r.status === 200);
    expect(row.completionTokens).toBe(CHAT.max_tokens);
    expect(row.tokensPerSec).toBeGreaterThan(0);
  });

  it('passes on the router\'s own refusal of a bad request as it gave it', async () => {
    // The model is loaded (the cached list vouches for it): the request goes with autoload=false,
    // and a 400 that is not "model is not loaded" reaches the caller unchanged.
    const body = { model: MODEL_A, messages: 'not a list' };
    const direct = await fetch(`${router.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(direct.status).toBe(400);
    const res = await v1('/chat/completions', { body });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual(await direct.json());
  });

  it('refuses a model outside the key\'s scope (403) and an unknown model (404)', async () => {
    await expectOpenAiError(await v1('/chat/completions', { key: keys.scoped, body: { model: MODEL_B, ...CHAT } }), 403, 'model_not_allowed');
    await expectOpenAiError(await v1('/chat/completions', { body: { model: 'no-such-model', ...CHAT } }), 404, 'model_not_found');
  });

  it('refuses a body over API_MAX_BODY_MB (413)', async () => {
    const huge = JSON.stringify({ model: MODEL_A, messages: [{ role: 'user', content: 'x'.repeat(1_100_000) }] });
    await expectOpenAiError(await v1('/chat/completions', { body: huge }), 413, 'request_too_large');
  });

  it('refuses a key over its request rate with 429 and Retry-After', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await v1('/models', { key: keys.limited });
      expect(res.status, await res.text()).toBe(200);
      const allowed = await v1('/chat/completions', { key: keys.limited, body: { model: MODEL_A, ...CHAT, max_tokens: 1 } });
      expect(allowed.status, await allowed.text()).toBe(200);
    }
    const res = await v1('/chat/completions', { key: keys.limited, body: { model: MODEL_A, ...CHAT } });
    await expectOpenAiError(res, 429, 'rate_limit_exceeded');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('refuses a request beyond the model\'s concurrency (429), and a client going away stops the router', async () => {
    const controller = new AbortController();
    const long = await v1('/chat/completions', { body: { model: MODEL_A, messages: [{ role: 'user', content: 'go' }], max_tokens: 4000, ignore_eos: true, stream: true }, signal: controller.signal });
    expect(long.status).toBe(200);
    const reader = long.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    // API_MODEL_CONCURRENCY=1 and the long stream runs: the next one is refused.
    const busy = await v1('/chat/completions', { body: { model: MODEL_A, ...CHAT } });
    await expectOpenAiError(busy, 429, 'model_busy');
    expect(busy.headers.get('retry-after')).toBe('1');

    const processing = async (): Promise<boolean> => {
      const slots = (await (await fetch(`${router.url}/slots?model=${MODEL_A}`)).json()) as { is_processing: boolean }[];
      return slots.some((s) => s.is_processing);
    };
    expect(await processing()).toBe(true);
    controller.abort();
    const abortedAt = Date.now();
    await waitFor(async () => !(await processing()), { timeoutMs: 5000, what: 'the slot to become free' });
    const row = await activity((r) => r.status === 499);
    expect(row.error).toBe('client_closed_request');
    // Generating 4000 tokens (the context caps it near 2000) takes over a second on this machine; freed well before.
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    // The admission was released: the model takes requests again.
    expect((await v1('/chat/completions', { body: { model: MODEL_A, ...CHAT } })).status).toBe(200);
  });

  it('serves the playground with the session cookie from the dashboard\'s origin only', async () => {
    const ok = await v1('/chat/completions', { key: null, headers: { cookie, origin: gw.url }, body: { model: MODEL_A, ...CHAT } });
    expect(ok.status).toBe(200);
    await expectOpenAiError(await v1('/chat/completions', { key: null, headers: { cookie, origin: 'https://evil.example' }, body: { model: MODEL_A, ...CHAT } }), 403, 'origin_not_allowed');
    await activity((r) => r.keyId === null && r.username === ADMIN.username && r.status === 200);
  });

  it('works with the official openai client: models list and a chat stream', async () => {
    const client = new OpenAI({ apiKey: keys.all, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const models = [];
    for await (const m of client.models.list()) {
      models.push(m.id);
    }
    expect(models.sort()).toEqual([MODEL_A, MODEL_B]);
    expect((await client.models.retrieve(MODEL_B)).id).toBe(MODEL_B);
    const stream = await client.chat.completions.create({ model: MODEL_A, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 8, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(text.length).toBeGreaterThan(0);
  });

  it('a revoked key fails from the next request on', async () => {
    expect((await v1('/models', { key: keys.scoped })).status).toBe(200);
    expectOk(await admin.request('apikeys:revoke', { keyId: scopedId.value }));
    await expectOpenAiError(await v1('/models', { key: keys.scoped }), 401, 'invalid_api_key');
    const listed = expectOk(await admin.request('apikeys:list', {})).keys;
    expect(listed.find((k) => k.id === scopedId.value)?.revokedAt).toBeGreaterThan(0);
    expect(listed.find((k) => k.source === 'environment')).toBeDefined();
  });

  it('reports requests, tokens and latency on the gateway\'s /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(new RegExp(`llamaproxy_api_requests_total\\{model="${MODEL_A}",key="[^"]+",status="200",endpoint="/chat/completions"\\} \\d+`));
    expect(text).toMatch(/llamaproxy_api_tokens_total\{[^}]*kind="completion"\} \d+/);
    expect(text).toContain('llamaproxy_api_time_to_first_token_seconds_bucket');
  });

  it('answers 503 when the router is down', async () => {
    await router.stop();
    await expectOpenAiError(await v1('/chat/completions', { body: { model: MODEL_A, ...CHAT } }), 503, 'service_unavailable');
  });
});
