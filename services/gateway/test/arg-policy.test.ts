import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisKeys, type PresetDocument, type ResponseEnvelope } from '@llamaproxy/shared';
import { parseLlamaHelp } from '@llamaproxy/supervisor/src/services/llama-help.js';
import { expectError, expectOk, publishToStream, REPO_ROOT, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { GatewayUnderTest } from './auth-fixture.js';
import { catalogue } from './fixtures.js';

/**
 * The flag policy at the gateway, with the argument catalogue parsed from this build's real
 * `llama-server --help`: every way a flag enters (extra args, the preset INI, structured presets,
 * per-model settings) refuses what writes or serves files, opens network surfaces or belongs to
 * the stack, with ARG_NOT_ALLOWED naming the flag, before anything is queued.
 */
describe('flag policy at the gateway', () => {
  const nodeId = 'policy-node';
  const redisUrl = `${inject('redisUrl')}/8`;
  let gw: GatewayUnderTest;
  let admin: TestClient;

  beforeAll(async () => {
    gw = await new GatewayUnderTest(redisUrl, { AUTH_MODE: 'none', SUPERVISOR_NODE_ID: nodeId }).start();
    const help = readFileSync(join(REPO_ROOT, 'services/supervisor/src/services/__fixtures__/llama-server-help.txt'), 'utf8');
    const redis = new Redis(redisUrl);
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId, catalogue: catalogue(nodeId, ['alpha']) });
    await publishToStream(redis, RedisKeys.statusStream, {
      kind: 'args',
      nodeId,
      catalogue: { nodeId, version: 'test', args: parseLlamaHelp(help), policy: { modelsDir: '/models', allow: [] } },
    });
    redis.disconnect();
    admin = await gw.connect();
    await waitFor(async () => (await admin.request('llama:args', {})).success && (await admin.request('models:get', { modelId: 'alpha' })).success, {
      timeoutMs: 20_000,
      what: 'catalogue ingested',
    });
  });
  afterAll(async () => gw?.stop());

  /** The current revisions: an update names the one it edited (an accepted change that cannot be queued is undone, which moves it on). */
  const configRevision = async (): Promise<number> => expectOk(await admin.request('config:get', {})).revision;
  const presetRevision = async (): Promise<number> => expectOk(await admin.request('presets:get', {})).revision;

  const refused = (response: ResponseEnvelope, flag: string): void => {
    expectError(response, 'ARG_NOT_ALLOWED');
    expect(!response.success && response.error.message).toContain(flag);
  };

  it.each([
    [['--log-file', '/models/alpha.gguf'], '--log-file'],
    [['--path', '/'], '--path'],
    [['--tools', 'all'], '--tools'],
    [['--mcp-servers-json', '{}'], '--mcp-servers-json'],
    [['--slot-save-path', '/models'], '--slot-save-path'],
    [['--media-path', '/'], '--media-path'],
    [['-hfr', 'evil/repo'], '-hfr'],
    [['--api-key', 'k'], '--api-key'],
    [['--host', '0.0.0.0'], '--host'],
    [['--lora', '/etc/passwd'], '--lora'],
  ])('config:update refuses extra args %j', async (extraArgs, flag) => {
    refused(await admin.request('config:update', { config: { extraArgs }, revision: await configRevision() }), flag);
  });

  it.each([
    ['[*]\nlog-file = /models/alpha.gguf\n', 'log-file'],
    ['[*]\npath = /\n', 'path'],
    ['[alpha]\nslot-save-path = /models\n', 'slot-save-path'],
    ['[my-entry]\nmodel = /etc/passwd\n', 'model'],
    ['[my-entry]\nmodel = ../../etc/passwd\n', 'model'],
  ])('presets:update refuses %j', async (ini, flag) => {
    refused(await admin.request('presets:update', { ini, revision: await presetRevision() }), flag);
    const check = await admin.request('presets:validate', { ini });
    expect(expectOk(check).valid).toBe(false);
  });

  const settingsRevision = async (modelId: string): Promise<number> => expectOk(await admin.request('models:settings:get', { modelId })).revision;

  it('refuses the same keys in a structured preset and in per-model settings', async () => {
    refused(await admin.request('presets:update', { preset: { global: { tools: 'all' }, sections: [] }, revision: await presetRevision() }), 'tools');
    const revision = await settingsRevision('alpha');
    refused(await admin.request('models:settings:update', { modelId: 'alpha', revision, settings: { 'log-file': '/models/alpha.gguf' } }), 'log-file');
    refused(await admin.request('models:settings:update', { modelId: 'alpha', revision, settings: { 'mmproj': '/etc/shadow' } }), 'mmproj');
    // Refused before anything was stored: the revision did not move.
    expect(await settingsRevision('alpha')).toBe(revision);
  });

  it('lets allowed flags and paths inside the models directory through to the queue', async () => {
    // No supervisor consumes this node's queue, so an accepted change stops there.
    const revision = await settingsRevision('alpha');
    for (const response of [
      await admin.request('config:update', { config: { extraArgs: ['--flash-attn', 'on', '-c', '8192'] }, revision: await configRevision() }),
      await admin.request('models:settings:update', { modelId: 'alpha', revision, settings: { 'ctx-size': '4096', mmproj: '/models/alpha-mmproj.gguf' } }),
    ]) {
      expectError(response, 'SUPERVISOR_UNAVAILABLE');
    }
    // Not queued, so not kept: the settings are as before.
    expect(expectOk(await admin.request('models:settings:get', { modelId: 'alpha' })).settings).toEqual({});
  });

  it('refuses a custom entry with no model source with PRESET_INVALID, in presets:update and presets:validate', async () => {
    const revision = await presetRevision();
    const orphan: PresetDocument = { global: {}, sections: [{ name: 'my-entry', values: { 'ctx-size': '4096' } }] };
    const response = await admin.request('presets:update', { preset: orphan, revision });
    expectError(response, 'PRESET_INVALID');
    expect(!response.success && response.error.message).toContain('[my-entry]: no model "my-entry" in the models directory');
    const check = expectOk(await admin.request('presets:validate', { preset: orphan }));
    expect(check.valid).toBe(false);
    expect(check.problems.map((p) => p.message)).toEqual([expect.stringContaining('[my-entry]: no model "my-entry"') as string]);
    // Nothing was stored.
    expect(await presetRevision()).toBe(revision);
    // A section named after a model of the catalogue, or a custom one with a source, passes this rule.
    const sourced: PresetDocument = { global: {}, sections: [{ name: 'alpha', values: { 'ctx-size': '4096' } }, { name: 'my-entry', values: { model: '/models/alpha.gguf' } }] };
    expect(expectOk(await admin.request('presets:validate', { preset: sourced }))).toEqual({ valid: true, problems: [] });
  });

  it('cannot move the models directory, host or port of llama-server', async () => {
    const before = expectOk(await admin.request('config:get', {})).config;
    // The keys are not part of the patch schema: they are dropped before anything is queued.
    const response = await admin.request('config:update', { config: { modelsDir: '/etc', host: '0.0.0.0', port: 1 } as never, revision: await configRevision() });
    expectError(response, 'SUPERVISOR_UNAVAILABLE');
    const after = expectOk(await admin.request('config:get', {})).config;
    expect(after).toMatchObject({ modelsDir: before.modelsDir, host: before.host, port: before.port });
  });
});
