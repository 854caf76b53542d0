import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectOk, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from '../faults/support/stack.js';

const COUNT = 2000;
const HEADERS = 1000;

/**
 * Issue 17 at 2,000 models: a models directory of hard links (1,000 of one loadable tiny model,
 * 1,000 of a metadata-only header with a 151,936-token vocabulary), the supervisor with a real
 * llama-server router over it, and a gateway, each a real process. The stack starts, lists every
 * model with its catalogue data, loads and unloads one, and a second client sees the delta.
 */
describe('scale: 2,000 models', { timeout: 240_000 }, () => {
  let stack: FaultStack;
  let client: TestClient;
  let watcher: TestClient;

  beforeAll(async () => {
    stack = await FaultStack.start({
      name: 'scale',
      llamaServerBin: inject('llamaServerBin'),
      farm: { count: COUNT, headers: HEADERS },
      // The default rescan interval: the test is about one scan of a large directory, not many.
      supervisorEnv: { MODELS_SCAN_INTERVAL_MS: '5000' },
    });
    client = await stack.connect();
    watcher = await stack.connect();
  }, 240_000);

  afterAll(async () => {
    await stack?.dispose();
  });

  it('lists all 2,000 models with their catalogue data and live state', async () => {
    const farm = stack.farm;
    expect(farm?.ids.length).toBe(COUNT);
    const models = await stack.diagnose(() =>
      waitFor(
        async () => {
          const list = expectOk(await client.request('models:list', {}, 30_000)).models;
          // Every entry known, and each one's state as the router reports it (not the placeholder of a catalogue row).
          return list.length === COUNT && list.every((m) => m.architecture !== null && m.state.args.length > 0) ? list : undefined;
        },
        { timeoutMs: 180_000, intervalMs: 1000, what: `${COUNT} models listed with catalogue data and router state` },
      ),
    );
    expect(models.map((m) => m.id).sort()).toEqual(farm?.ids);
    const header = models.find((m) => m.id === farm?.headers[0]);
    expect(header).toMatchObject({ architecture: 'qwen2', name: 'large-vocabulary header', contextLength: 32_768, quantization: 'Q4_K_M' });
    const loadable = models.find((m) => m.id === farm?.loadable[0]);
    expect(loadable).toMatchObject({ architecture: 'llama', valid: true });
    expect(loadable?.state.status).toBe('unloaded');
  });

  it('loads and unloads one model, and a second client sees each change as a delta', async () => {
    const modelId = stack.farm?.loadable[1] as string;
    const load = expectOk(await client.request('models:load', { modelId })).job;
    const loaded = await stack.diagnose(() =>
      watcher.waitForBroadcast('models:status', (e) => e.data.model.id === modelId && e.data.model.status === 'loaded', { timeoutMs: 120_000 }),
    );
    expect(loaded.data.nodeId).toBe(stack.nodeId);
    const done = await client.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === load.jobId && (e.data.state === 'completed' || e.data.state === 'failed'), {
      timeoutMs: 60_000,
    });
    expect(done.data.state).toBe('completed');
    expect(expectOk(await client.request('models:get', { modelId })).model.state.status).toBe('loaded');

    expectOk(await client.request('models:unload', { modelId }));
    await stack.diagnose(() =>
      watcher.waitForBroadcast('models:status', (e) => e.data.model.id === modelId && e.data.model.status === 'unloaded', { timeoutMs: 60_000 }),
    );
    await waitFor(async () => expectOk(await client.request('models:get', { modelId })).model.state.status === 'unloaded', {
      timeoutMs: 30_000,
      what: `${modelId} shown unloaded`,
    });
  });
});
