import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ErrorInfo } from '@llamaproxy/shared';
import { expectOk, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/**
 * Bad files in the models directory: each gets its own clear error, and the good models keep
 * working. (An unreadable models directory, chmod 000, is not tested: the tests run as root, which
 * ignores permissions.)
 */
describe('fault: bad model files', () => {
  let stack: FaultStack;
  let client: TestClient;

  const view = async (modelId: string) => expectOk(await client.request('models:list', {})).models.find((m) => m.id === modelId);
  /** Loads a model: null once it is loaded, or the error (refused at once by the gateway, or the job's). */
  const loadError = async (modelId: string): Promise<ErrorInfo | null> => {
    const response = await client.request('models:load', { modelId });
    if (!response.success) {
      return response.error;
    }
    const jobId = response.data.job.jobId;
    const outcome = await client.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === jobId && (e.data.state === 'completed' || e.data.state === 'failed'), { timeoutMs: 60_000 });
    return outcome.data.state === 'completed' ? null : (outcome.data.error ?? { code: 'JOB_FAILED', message: '' });
  };

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'bad-models', llamaServerBin: inject('llamaServerBin'), models: 3 });
    const good = readFileSync(join(stack.modelsDir, 'tiny-llama-a.gguf'));
    writeFileSync(join(stack.modelsDir, 'truncated.gguf'), good.subarray(0, Math.floor(good.length / 2)));
    writeFileSync(join(stack.modelsDir, 'not-gguf.gguf'), 'just some text, not a model\n');
    client = await stack.connect();
    await stack.diagnose(() =>
      waitFor(async () => expectOk(await client.request('models:list', {})).models.length === 5, { timeoutMs: 30_000, what: 'five models in the catalogue' }),
    );
  });

  afterAll(async () => {
    await stack?.dispose();
  });

  it('reports a file that is not a GGUF, and refuses to load it with why', async () => {
    expect(await view('not-gguf')).toMatchObject({ valid: false, invalidReason: expect.stringContaining('not a GGUF file') });
    expect(await loadError('not-gguf')).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('not a GGUF file') });
  });

  it('reports a truncated GGUF, and a load of it fails with why instead of hanging', async () => {
    const truncated = await view('truncated');
    expect(truncated).toBeDefined();
    if (truncated?.valid === false) {
      expect(truncated.invalidReason?.length).toBeGreaterThan(0);
    }
    const error = await loadError('truncated');
    expect(error?.code).toMatch(/^(MODEL_INVALID|MODEL_LOAD_FAILED)$/);
    expect(error?.message).toContain('truncated');
    const state = expectOk(await client.request('models:get', { modelId: 'truncated' })).model.state;
    expect(state.status).not.toBe('loading');
  });

  it('copes with a loaded model whose file is removed, and keeps the others working', async () => {
    expect(await loadError('tiny-llama-b')).toBeNull();
    rmSync(join(stack.modelsDir, 'tiny-llama-b.gguf'));
    // The catalogue drops it by itself (the directory is watched).
    await waitFor(async () => (await view('tiny-llama-b'))?.valid !== true, { timeoutMs: 30_000, what: 'tiny-llama-b gone from the catalogue' });
    // The others keep working: a good model loads and answers.
    expect(await loadError('tiny-llama-c')).toBeNull();
    const res = await fetch(`${stack.llamaUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-llama-c', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    // Loading the removed one again fails with a clear error.
    expect(await loadError('tiny-llama-b')).toMatchObject({ code: 'MODEL_NOT_FOUND', message: expect.stringContaining('tiny-llama-b') });
    expect(expectOk(await client.request('llama:status', {})).nodes[0]?.state).toBe('running');
  });
});
