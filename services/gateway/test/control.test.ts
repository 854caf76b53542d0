import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import Database from 'better-sqlite3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { controlQueueName, JOB_RETRY, QUEUE_PREFIX } from '@llamaproxy/shared';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { expectError, expectOk, freePort, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

/**
 * Intents end to end: browser client → gateway → BullMQ → supervisor → real llama-server, and
 * the outcome back through Redis streams → gateway → every client.
 */
describe('gateway with a real supervisor', () => {
  const redisUrl = `${inject('redisUrl')}/5`;
  const nodeId = 'control-node';
  let dir: string;
  let modelsDir: string;
  let gateway: ManagedProcess;
  let supervisor: ManagedProcess;
  let client: TestClient;
  let observer: TestClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-control-'));
    modelsDir = join(dir, 'models');
    await writeDemoModels(modelsDir, { count: 2 });
    const llamaPort = String(await freePort());
    const gatewayPort = await freePort();
    // Both services read the same keys, as the compose file gives them.
    const shared = {
      REDIS_URL: redisUrl,
      SUPERVISOR_NODE_ID: nodeId,
      MODELS_DIR: modelsDir,
      LLAMA_PORT: llamaPort,
      LLAMA_MODELS_MAX: '1',
      LLAMA_CTX_SIZE: '512',
      LLAMA_MODELS_AUTOLOAD: 'false',
    };
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    supervisor = startService('supervisor', { ...shared, LLAMA_SERVER_BIN: inject('llamaServerBin'), SUPERVISOR_DATA_DIR: join(dir, 'supervisor') });
    gateway = startService('gateway', { ...shared, AUTH_MODE: 'none', DATA_DIR: join(dir, 'gateway'), GATEWAY_PORT: String(gatewayPort), GATEWAY_HOST: '127.0.0.1' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gatewayPort}/readyz`)).ok, { timeoutMs: 30_000, what: 'gateway ready' });
    client = await TestClient.connect(`http://127.0.0.1:${gatewayPort}`);
    observer = await TestClient.connect(`http://127.0.0.1:${gatewayPort}`);
    await waitFor(
      async () => {
        const models = await client.request('models:list', {});
        const status = await client.request('llama:status', {});
        return models.success && models.data.models.length === 2 && status.success && status.data.nodes[0]?.state === 'running';
      },
      { timeoutMs: 60_000, what: 'catalogue and running llama-server reported' },
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- supervisor\n${supervisor.tail()}\n--- gateway\n${gateway.tail()}`);
    });
  });

  const failedJob = async (jobId: string) => {
    const queue = new Queue(controlQueueName(nodeId), { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix: QUEUE_PREFIX });
    try {
      return await queue.getJob(jobId);
    } finally {
      await queue.close();
      (await queue.client).disconnect();
    }
  };

  afterAll(async () => {
    client?.close();
    observer?.close();
    await gateway?.stop();
    await supervisor?.stop(20_000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads a model: the job is queued once, progress is relayed, every client sees it reach loaded', async () => {
    const [first, second] = await Promise.all([
      client.request('models:load', { modelId: 'tiny-llama-a' }),
      client.request('models:load', { modelId: 'tiny-llama-a' }),
    ]);
    const one = expectOk(first);
    const two = expectOk(second);
    expect(one.job.jobId).toBe(two.job.jobId);
    expect([one.job.created, two.job.created].filter(Boolean)).toHaveLength(1);

    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loading');
    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded', { timeoutMs: 60_000 });
    await observer.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === one.job.jobId && e.data.state === 'completed');
    const model = await client.request('models:get', { modelId: 'tiny-llama-a' });
    expect(expectOk(model).model.state.status).toBe('loaded');
    // The intent and the outcome are in the log.
    const logs = await client.request('logs:query', { source: 'gateway', limit: 10 });
    expect(expectOk(logs).entries.map((e) => e.message)).toEqual(expect.arrayContaining(['load requested: tiny-llama-a']));
  });

  it('unloads a model', async () => {
    expectOk(await client.request('models:unload', { modelId: 'tiny-llama-a' }));
    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'unloaded', { timeoutMs: 60_000 });
  });

  it('rejects a preset with a key llama-server does not have, before anything is queued', async () => {
    const { revision } = expectOk(await client.request('presets:get', {}));
    const response = await client.request('presets:update', { ini: 'version = 1\n[*]\nno-such-flag = 1\n', revision });
    expect(response).toMatchObject({ success: false, error: { code: 'PRESET_INVALID', message: expect.stringContaining('no-such-flag') } });
    // The editor can ask first.
    const bad = await client.request('presets:validate', { ini: 'version = 1\n[*]\nno-such-flag = 1\nctx-size = big\n' });
    expect(expectOk(bad)).toEqual({
      valid: false,
      problems: [
        { line: 0, message: '[*] no-such-flag: not an argument of this llama-server' },
        { line: 0, message: '[*] ctx-size: expects an integer, got "big"' },
      ],
    });
    const syntax = await client.request('presets:validate', { ini: 'c = 1' });
    expect(expectOk(syntax)).toEqual({ valid: false, problems: [{ line: 1, message: 'key "c" is outside any section' }] });
    const good = await client.request('presets:validate', { preset: { global: { c: '2048' }, sections: [] } });
    expect(expectOk(good)).toEqual({ valid: true, problems: [] });
  });

  const settingsRevision = async (modelId: string): Promise<number> => expectOk(await client.request('models:settings:get', { modelId })).revision;

  it('applies per-model settings through the preset file and broadcasts them', async () => {
    const revision = await settingsRevision('tiny-llama-b');
    const response = await client.request('models:settings:update', { modelId: 'tiny-llama-b', revision, settings: { 'ctx-size': '256', 'load-on-startup': 'false' } });
    expect(expectOk(response).revision).toBe(revision + 1);
    const updated = await observer.waitForBroadcast('presets:updated', (e) => e.data.ini.includes('[tiny-llama-b]'), { timeoutMs: 30_000 });
    expect(updated.data.ini).toContain('ctx-size = 256');
    const settings = expectOk(await client.request('models:settings:get', { modelId: 'tiny-llama-b' }));
    expect(settings).toMatchObject({ settings: { 'ctx-size': '256', 'load-on-startup': 'false' }, revision: revision + 1 });
  });

  it('keeps quick edits of two models\' settings, and refuses a stale edit with CONFLICT and the current settings', async () => {
    const [a, b] = [await settingsRevision('tiny-llama-a'), await settingsRevision('tiny-llama-b')];
    const [ra, rb] = await Promise.all([
      client.request('models:settings:update', { modelId: 'tiny-llama-a', revision: a, settings: { 'ctx-size': '384' } }),
      observer.request('models:settings:update', { modelId: 'tiny-llama-b', revision: b, settings: { 'ctx-size': '320' } }),
    ]);
    expectOk(ra);
    expectOk(rb);
    const stale = await client.request('models:settings:update', { modelId: 'tiny-llama-a', revision: a, settings: { 'ctx-size': '999' } });
    expectError(stale, 'CONFLICT');
    expect(!stale.success && stale.error.current).toEqual({ document: 'model-settings:tiny-llama-a', revision: a + 1, value: { 'ctx-size': '384' } });
    const preset = expectOk(await client.request('presets:get', {})).preset;
    expect(preset.sections).toEqual(
      expect.arrayContaining([
        { name: 'tiny-llama-a', values: { 'ctx-size': '384' } },
        { name: 'tiny-llama-b', values: { 'ctx-size': '320' } },
      ]),
    );
    // What the supervisor wrote has both sections too (the last preset job applied the newest revision).
    await observer.waitForBroadcast('jobs:progress', (e) => e.data.job.name === 'preset.apply' && e.data.state === 'completed' && e.data.job.jobId === expectOk(rb).job.jobId, { timeoutMs: 30_000 });
  });

  it('applies a new server configuration, restarting llama-server, and refuses an edit of an older revision', async () => {
    const { revision } = expectOk(await client.request('config:get', {}));
    const response = await client.request('config:update', { config: { ctxSize: 1024 }, revision });
    expect(expectOk(response).revision).toBe(revision + 1);
    // A second editor that loaded the same revision: refused, told what is stored now.
    const stale = await observer.request('config:update', { config: { parallel: 2 }, revision });
    expectError(stale, 'CONFLICT');
    expect(!stale.success && stale.error.current).toMatchObject({ document: 'config', revision: revision + 1, value: { ctxSize: 1024, parallel: 1 } });
    await observer.waitForBroadcast('config:updated', (e) => e.data.config.ctxSize === 1024 && e.data.revision === revision + 1, { timeoutMs: 60_000 });
    const status = await observer.waitForBroadcast('llama:status', (e) => e.data.status.state === 'running' && e.data.status.args.includes('1024'), { timeoutMs: 60_000 });
    expect(status.data.status.args.join(' ')).toContain('--ctx-size 1024');
    // Reloaded and sent again: both changes are kept, and llama-server runs with both.
    const retry = expectOk(await observer.request('config:update', { config: { parallel: 2 }, revision: revision + 1 }));
    expect(retry.config).toMatchObject({ ctxSize: 1024, parallel: 2 });
    const both = await observer.waitForBroadcast('llama:status', (e) => e.data.status.state === 'running' && e.data.status.args.join(' ').includes('--parallel 2'), { timeoutMs: 60_000 });
    expect(both.data.status.args.join(' ')).toContain('--ctx-size 1024');
    expect(expectOk(await client.request('config:get', {}))).toMatchObject({ config: { ctxSize: 1024, parallel: 2 }, revision: revision + 2 });
  });

  it('runs a failed job again when it is asked again, after retrying it with backoff', async () => {
    expectOk(await client.request('llama:stop', {}));
    await observer.waitForBroadcast('llama:status', (e) => e.data.status.state === 'stopped', { timeoutMs: 30_000 });
    const failed = expectOk(await client.request('models:load', { modelId: 'tiny-llama-b' })).job;
    expect(failed.created).toBe(true);
    const outcome = await observer.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === failed.jobId && e.data.state === 'failed', { timeoutMs: 60_000 });
    expect(outcome.data.error?.code).toBe('LLAMA_NOT_RUNNING');
    // A transient failure: every attempt was made before it failed.
    const bull = await failedJob(failed.jobId);
    expect(bull?.attemptsMade).toBe(JOB_RETRY.attempts);

    expectOk(await client.request('llama:start', {}));
    await observer.waitForBroadcast('llama:status', (e) => e.data.status.state === 'running', { timeoutMs: 60_000 });
    const again = expectOk(await client.request('models:load', { modelId: 'tiny-llama-b' })).job;
    expect(again.created).toBe(true);
    expect(again.jobId).not.toBe(failed.jobId);
    await observer.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === again.jobId && e.data.state === 'completed', { timeoutMs: 60_000 });
    expect(expectOk(await client.request('models:get', { modelId: 'tiny-llama-b' })).model.state.status).toBe('loaded');
    // Each outcome was stored once, by job id, in the database every replica shares.
    const db = new Database(join(dir, 'gateway', 'llamaproxy.db'), { readonly: true });
    const rows = db.prepare('SELECT job_id, state, error_code FROM jobs WHERE job_id IN (?, ?) ORDER BY created_at').all(failed.jobId, again.jobId);
    db.close();
    expect(rows).toEqual([
      { job_id: failed.jobId, state: 'failed', error_code: 'LLAMA_NOT_RUNNING' },
      { job_id: again.jobId, state: 'completed', error_code: null },
    ]);
  });

  it('refuses an unknown extra argument with INVALID_ARGUMENT and keeps the configuration', async () => {
    const { revision } = expectOk(await client.request('config:get', {}));
    const response = await client.request('config:update', { config: { extraArgs: ['--definitely-not-a-flag'] }, revision });
    expect(response).toMatchObject({ success: false, error: { code: 'INVALID_ARGUMENT' } });
    const config = await client.request('config:get', {});
    expect(expectOk(config).config.extraArgs).toEqual([]);
  });
});
