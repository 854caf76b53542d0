import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeDemoModels } from '@llamaproxy/tests/gguf';
import { freePort, startService, TestClient, waitFor, type ManagedProcess } from '@llamaproxy/tests/harness';

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
    const { Redis } = await import('ioredis');
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
    expect({ first, second }).toMatchObject({ first: { success: true }, second: { success: true } });
    if (!first.success || !second.success) {
      return;
    }
    expect(first.data.job.jobId).toBe(second.data.job.jobId);
    expect([first.data.job.created, second.data.job.created].filter(Boolean)).toHaveLength(1);

    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loading');
    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded', { timeoutMs: 60_000 });
    await observer.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === first.data.job.jobId && e.data.state === 'completed');
    const model = await client.request('models:get', { modelId: 'tiny-llama-a' });
    expect(model.success && model.data.model.state.status).toBe('loaded');
    // The intent and the outcome are in the log.
    const logs = await client.request('logs:query', { source: 'gateway', limit: 10 });
    expect(logs.success && logs.data.entries.map((e) => e.message)).toEqual(expect.arrayContaining(['load requested: tiny-llama-a']));
  });

  it('unloads a model', async () => {
    const response = await client.request('models:unload', { modelId: 'tiny-llama-a' });
    expect(response.success).toBe(true);
    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'unloaded', { timeoutMs: 60_000 });
  });

  it('rejects a preset with a key llama-server does not have, before anything is queued', async () => {
    const response = await client.request('presets:update', { ini: 'version = 1\n[*]\nno-such-flag = 1\n' });
    expect(response).toMatchObject({ success: false, error: { code: 'PRESET_INVALID', message: expect.stringContaining('no-such-flag') } });
    // The editor can ask first.
    const bad = await client.request('presets:validate', { ini: 'version = 1\n[*]\nno-such-flag = 1\nctx-size = big\n' });
    expect(bad.success && bad.data).toEqual({
      valid: false,
      problems: [
        { line: 0, message: '[*] no-such-flag: not an argument of this llama-server' },
        { line: 0, message: '[*] ctx-size: expects an integer, got "big"' },
      ],
    });
    const syntax = await client.request('presets:validate', { ini: 'c = 1' });
    expect(syntax.success && syntax.data).toEqual({ valid: false, problems: [{ line: 1, message: 'key "c" is outside any section' }] });
    const good = await client.request('presets:validate', { preset: { global: { c: '2048' }, sections: [] } });
    expect(good.success && good.data).toEqual({ valid: true, problems: [] });
  });

  it('applies per-model settings through the preset file and broadcasts them', async () => {
    const response = await client.request('models:settings:update', { modelId: 'tiny-llama-b', settings: { 'ctx-size': '256', 'load-on-startup': 'false' } });
    expect(response.success).toBe(true);
    const updated = await observer.waitForBroadcast('presets:updated', (e) => e.data.ini.includes('[tiny-llama-b]'), { timeoutMs: 30_000 });
    expect(updated.data.ini).toContain('ctx-size = 256');
    const settings = await client.request('models:settings:get', { modelId: 'tiny-llama-b' });
    expect(settings.success && settings.data.settings).toEqual({ 'ctx-size': '256', 'load-on-startup': 'false' });
  });

  it('applies a new server configuration, restarting llama-server, and keeps it', async () => {
    const response = await client.request('config:update', { config: { ctxSize: 1024 } });
    expect(response.success).toBe(true);
    await observer.waitForBroadcast('config:updated', (e) => e.data.config.ctxSize === 1024, { timeoutMs: 60_000 });
    const status = await observer.waitForBroadcast('llama:status', (e) => e.data.status.state === 'running' && e.data.status.args.includes('1024'), { timeoutMs: 60_000 });
    expect(status.data.status.args.join(' ')).toContain('--ctx-size 1024');
    const config = await client.request('config:get', {});
    expect(config.success && config.data.config.ctxSize).toBe(1024);
  });

  it('refuses an unknown extra argument with INVALID_ARGUMENT and keeps the configuration', async () => {
    const response = await client.request('config:update', { config: { extraArgs: ['--definitely-not-a-flag'] } });
    expect(response).toMatchObject({ success: false, error: { code: 'INVALID_ARGUMENT' } });
    const config = await client.request('config:get', {});
    expect(config.success && config.data.config.extraArgs).toEqual([]);
  });
});
