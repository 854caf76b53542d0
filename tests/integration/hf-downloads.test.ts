import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode, type DownloadView } from '@llamaproxy/shared';
import { buildTinyModel, splitFileNames, splitGguf, tinyModelDescription } from '@llamaproxy/tests/gguf';
import { buildGguf, gguf } from '@llamaproxy/tests/gguf-writer';
import { expectError, expectOk, HfHubStandIn, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from '../faults/support/stack.js';

const single = buildTinyModel({ seed: 11, name: 'tiny-hf' });
const big = buildTinyModel({ seed: 12, name: 'tiny-big', embeddingLength: 128, feedForwardLength: 512 });
const shards = splitGguf(tinyModelDescription({ seed: 13, name: 'tiny-split' }), 3);
const mmproj = buildGguf({ metadata: { 'general.architecture': gguf.str('clip'), 'general.type': gguf.str('mmproj') } });
const SPLIT_FILES = splitFileNames('tiny-split-Q4_K_M', 3);

/**
 * Model downloads end to end: the gateway searches and lists the Hub stand-in, queues downloads;
 * the supervisor downloads into its real models directory; the catalogue shows the model at once
 * and the real llama-server loads it. Faults: 404, gated without a token, checksum mismatch, an
 * escaping name, the supervisor killed mid-download (resumed by the next one), cancel, delete.
 */
describe('model downloads from the Hugging Face Hub', { timeout: 180_000 }, () => {
  let hub: HfHubStandIn;
  let stack: FaultStack;
  let client: TestClient;

  beforeAll(async () => {
    hub = await HfHubStandIn.start({
      repos: [
        { id: 'acme/tiny-GGUF', downloads: 500, likes: 7, files: [{ path: 'README.md', data: Buffer.from('# tiny') }, { path: 'tiny-Q8_0.gguf', data: single }, { path: 'big-F16.gguf', data: big }] },
        { id: 'acme/split-GGUF', downloads: 50, files: SPLIT_FILES.map((path, i) => ({ path, data: shards[i]! })) },
        { id: 'acme/vision-GGUF', files: [{ path: 'vision-Q4_0.gguf', data: single }, { path: 'mmproj-vision-F16.gguf', data: mmproj }] },
        { id: 'acme/gated-GGUF', gated: true, files: [{ path: 'gated-Q8_0.gguf', data: single }] },
        { id: 'acme/corrupt-GGUF', files: [{ path: 'bad-Q8_0.gguf', data: single, corrupt: true }] },
        { id: 'acme/no-gguf', files: [{ path: 'model.safetensors', data: Buffer.from('x') }] },
        // Announced as 64 TiB: more than any test machine's free space.
        { id: 'acme/huge-GGUF', files: [{ path: 'huge-Q8_0.gguf', data: single, announcedSize: 64 * 1024 ** 4 }] },
      ],
    });
    stack = await FaultStack.start({
      name: 'hf',
      llamaServerBin: inject('llamaServerBin'),
      models: 1,
      supervisorEnv: { HF_ENDPOINT: hub.endpoint, DOWNLOAD_LOCK_MS: '2000' },
      gatewayEnv: { HF_ENDPOINT: hub.endpoint },
    });
    client = await stack.connect();
  });

  afterAll(async () => {
    await stack?.dispose();
    await hub?.close();
  });

  const start = async (repo: string, files: string[], name?: string): Promise<DownloadView> =>
    expectOk(await client.request('downloads:start', { repo, files, ...(name === undefined ? {} : { name }) })).download;

  const ended = (id: string, timeoutMs = 30_000): Promise<DownloadView> =>
    stack.diagnose(async () =>
      (await client.waitForBroadcast('downloads:progress', (e) => e.data.download.id === id && ['completed', 'failed', 'cancelled'].includes(e.data.download.state), { timeoutMs })).data.download,
    );

  const modelListed = (id: string): Promise<unknown> =>
    waitFor(async () => expectOk(await client.request('models:list', {})).models.find((m) => m.id === id), { timeoutMs: 15_000, what: `model ${id} in the catalogue` });

  const load = async (modelId: string): Promise<void> => {
    expectOk(await client.request('models:load', { modelId }));
    await stack.diagnose(() =>
      client.waitForBroadcast('models:status', (e) => e.data.model.id === modelId && e.data.model.status === 'loaded', { timeoutMs: 60_000 }),
    );
  };

  it('searches the Hub for GGUF repositories and lists a repository as the router will see it', async () => {
    const { results } = expectOk(await client.request('hf:search', { query: 'gguf' }));
    expect(results[0]).toMatchObject({ id: 'acme/tiny-GGUF', downloads: 500, likes: 7, gated: false, private: false });
    expect(results.find((r) => r.id === 'acme/gated-GGUF')?.gated).toBe(true);
    expect(results.some((r) => r.id === 'acme/no-gguf')).toBe(false);

    const split = expectOk(await client.request('hf:files', { repo: 'acme/split-GGUF' }));
    expect(split.groups).toHaveLength(1);
    expect(split.groups[0]).toMatchObject({ kind: 'model', quantization: 'Q4_K_M', suggestedName: 'tiny-split-Q4_K_M', complete: true, sizeBytes: shards.reduce((s, b) => s + b.length, 0) });
    expect(split.groups[0]?.files.map((f) => f.path)).toEqual(SPLIT_FILES);
    const vision = expectOk(await client.request('hf:files', { repo: 'acme/vision-GGUF' }));
    expect(vision.groups.map((g) => [g.kind, g.quantization])).toEqual([['model', 'Q4_0'], ['mmproj', 'F16']]);

    expectError(await client.request('hf:files', { repo: 'acme/no-gguf' }), ErrorCode.HF_NO_GGUF);
    expectError(await client.request('hf:files', { repo: 'acme/missing' }), ErrorCode.HF_NOT_FOUND);
  });

  it('downloads one file with progress; the catalogue shows it at once and llama-server loads it', async () => {
    const download = await start('acme/tiny-GGUF', ['tiny-Q8_0.gguf'], 'tiny-hf');
    expect(download.name).toBe('tiny-hf');
    const done = await ended(download.id);
    expect(done.state).toBe('completed');
    expect(done.result).toEqual({ modelId: 'tiny-hf', path: 'tiny-hf.gguf', bytes: single.length, resumedBytes: 0 });
    expect(client.broadcasts('downloads:progress').some((e) => e.data.download.id === download.id && e.data.download.progress?.stage === 'downloading')).toBe(true);
    expect(readFileSync(join(stack.modelsDir, 'tiny-hf.gguf')).equals(single)).toBe(true);
    await modelListed('tiny-hf');
    await load('tiny-hf');
    const listed = expectOk(await client.request('downloads:list', {})).downloads.find((d) => d.id === download.id);
    expect(listed?.state).toBe('completed');
  });

  it('downloads a split set into a folder, and llama-server loads the three shards as one model', async () => {
    const download = await start('acme/split-GGUF', SPLIT_FILES, 'tiny-split');
    expect((await ended(download.id)).state).toBe('completed');
    expect(readdirSync(join(stack.modelsDir, 'tiny-split')).sort()).toEqual(SPLIT_FILES);
    await modelListed('tiny-split');
    const entry = expectOk(await client.request('models:get', { modelId: 'tiny-split' })).model;
    expect(entry).toMatchObject({ layout: 'multi-shard', valid: true, split: { count: 3, present: [1, 2, 3] } });
    await load('tiny-split');
  });

  it('downloads a model with its projector into one folder (multimodal), and an admin deletes it', async () => {
    const download = await start('acme/vision-GGUF', ['vision-Q4_0.gguf', 'mmproj-vision-F16.gguf'], 'vision');
    expect((await ended(download.id)).state).toBe('completed');
    await modelListed('vision');
    const entry = expectOk(await client.request('models:get', { modelId: 'vision' })).model;
    expect(entry).toMatchObject({ layout: 'multimodal', mmproj: 'vision/mmproj-vision-F16.gguf' });

    const job = expectOk(await client.request('models:delete', { modelId: 'vision' })).job;
    await client.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === job.jobId && e.data.state === 'completed', { timeoutMs: 20_000 });
    expect(existsSync(join(stack.modelsDir, 'vision'))).toBe(false);
    await waitFor(async () => !expectOk(await client.request('models:list', {})).models.some((m) => m.id === 'vision'), { timeoutMs: 15_000, what: 'vision gone from the catalogue' });
  });

  it('refuses to delete a loaded model (MODEL_LOADED)', async () => {
    expectError(await client.request('models:delete', { modelId: 'tiny-split' }), ErrorCode.MODEL_LOADED);
    expect(existsSync(join(stack.modelsDir, 'tiny-split'))).toBe(true);
  });

  it('refuses a name that would leave the models directory, before queueing anything', async () => {
    for (const name of ['../evil', 'a/b', '..']) {
      expectError(await client.request('downloads:start', { repo: 'acme/tiny-GGUF', files: ['tiny-Q8_0.gguf'], name }), ErrorCode.PATH_OUTSIDE_MODELS_DIR);
    }
    expect(existsSync(join(stack.modelsDir, '..', 'evil.gguf'))).toBe(false);
  });

  it('fails a missing file (HF_NOT_FOUND), a gated file without a token (HF_UNAUTHORIZED) and a corrupted one (CHECKSUM_MISMATCH)', async () => {
    const missing = await ended((await start('acme/tiny-GGUF', ['missing-Q2_K.gguf'], 'missing')).id);
    expect(missing).toMatchObject({ state: 'failed', error: { code: ErrorCode.HF_NOT_FOUND } });
    const gated = await ended((await start('acme/gated-GGUF', ['gated-Q8_0.gguf'])).id);
    expect(gated, JSON.stringify(gated.error)).toMatchObject({ state: 'failed', error: { code: ErrorCode.HF_UNAUTHORIZED } });
    expect(gated.error?.message).toContain('HF_TOKEN');
    const corrupt = await ended((await start('acme/corrupt-GGUF', ['bad-Q8_0.gguf'])).id);
    expect(corrupt).toMatchObject({ state: 'failed', error: { code: ErrorCode.CHECKSUM_MISMATCH } });
    expect(existsSync(join(stack.modelsDir, 'bad-Q8_0.gguf'))).toBe(false);
    expect(readdirSync(join(stack.modelsDir, '.downloads'))).toEqual([]);
  });

  it('refuses a download larger than the free space before writing anything (DISK_FULL)', async () => {
    const huge = await ended((await start('acme/huge-GGUF', ['huge-Q8_0.gguf'])).id);
    expect(huge).toMatchObject({ state: 'failed', error: { code: ErrorCode.DISK_FULL } });
    expect(huge.error?.message).toMatch(/MiB needed .* MiB free/);
    expect(existsSync(join(stack.modelsDir, 'huge-Q8_0.gguf'))).toBe(false);
    expect(readdirSync(join(stack.modelsDir, '.downloads'))).toEqual([]);
    expect(hub.requests.some((r) => r.path.endsWith('/huge-Q8_0.gguf'))).toBe(false);
  });

  it('cancels a running download and removes its partial file', async () => {
    hub.throttle = { chunkBytes: 2048, delayMs: 20 };
    try {
      const download = await start('acme/tiny-GGUF', ['big-F16.gguf'], 'big-cancelled');
      await client.waitForBroadcast('downloads:progress', (e) => e.data.download.id === download.id && (e.data.download.progress?.bytesDone ?? 0) > 0, { timeoutMs: 20_000 });
      expectOk(await client.request('downloads:cancel', { downloadId: download.id }));
      expect(await ended(download.id)).toMatchObject({ state: 'cancelled', error: { code: ErrorCode.JOB_CANCELLED } });
      expect(readdirSync(join(stack.modelsDir, '.downloads'))).toEqual([]);
      expect(existsSync(join(stack.modelsDir, 'big-cancelled.gguf'))).toBe(false);
    } finally {
      hub.throttle = null;
    }
  });

  it('records downloads, cancels and deletes in the audit log, refusals with their code', async () => {
    const { entries } = expectOk(await client.request('audit:query', { limit: 500 }));
    const started = entries.filter((e) => e.event === 'downloads:start');
    expect(started.some((e) => e.outcome === 'ok' && e.summary.includes('acme/split-GGUF'))).toBe(true);
    expect(started.some((e) => e.outcome === 'error' && e.errorCode === ErrorCode.PATH_OUTSIDE_MODELS_DIR)).toBe(true);
    expect(entries.some((e) => e.event === 'downloads:cancel' && e.outcome === 'ok')).toBe(true);
    expect(entries.some((e) => e.event === 'models:delete' && e.target === 'vision' && e.outcome === 'ok')).toBe(true);
    expect(entries.some((e) => e.event === 'models:delete' && e.target === 'tiny-split' && e.errorCode === ErrorCode.MODEL_LOADED)).toBe(true);
  });

  it('resumes a download after the supervisor is killed mid-way (HTTP Range from the partial file), and with HF_TOKEN the gated file comes', async () => {
    hub.throttle = { chunkBytes: 4096, delayMs: 20 };
    const download = await start('acme/tiny-GGUF', ['big-F16.gguf'], 'big');
    await client.waitForBroadcast('downloads:progress', (e) => e.data.download.id === download.id && (e.data.download.progress?.bytesDone ?? 0) > 8192, { timeoutMs: 20_000 });
    stack.supervisor.kill('SIGKILL');
    await stack.supervisor.exited;
    hub.throttle = null;
    const before = hub.requests.length;
    stack.startSupervisor({ HF_TOKEN: hub.validToken });
    const done = await ended(download.id, 60_000);
    expect(done.state).toBe('completed');
    expect(done.result?.resumedBytes).toBeGreaterThan(0);
    const resumed = hub.requests.slice(before).filter((r) => r.host === 'storage' && r.range !== null);
    expect(resumed.map((r) => Number(/bytes=(\d+)-/.exec(r.range ?? '')?.[1]))).toContain(done.result?.resumedBytes);
    expect(createHash('sha256').update(readFileSync(join(stack.modelsDir, 'big.gguf'))).digest('hex')).toBe(HfHubStandIn.sha256(big));

    await stack.waitForLlama((s) => s.state === 'running', 'llama-server running under the new supervisor', 60_000);
    const gated = await ended((await start('acme/gated-GGUF', ['gated-Q8_0.gguf'])).id);
    expect(gated.state).toBe('completed');
    await modelListed('gated-Q8_0');
    await load('big');
  });
});
