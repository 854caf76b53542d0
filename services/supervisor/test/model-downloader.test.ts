import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ErrorCode, type DownloadPayload, type DownloadProgress } from '@llamaproxy/shared';
import { HfHubClient } from '@llamaproxy/shared/node';
import { buildTinyModel, splitFileNames, splitGguf, tinyModelDescription } from '@llamaproxy/tests/gguf';
import { buildGguf, gguf } from '@llamaproxy/tests/gguf-writer';
import { HfHubStandIn, waitFor } from '@llamaproxy/tests/harness';
import { DOWNLOADS_DIR, ModelDownloader } from '../src/repositories/model-downloader.js';
import { planDownload } from '../src/services/downloads/download-plan.js';
import { findModels } from '../src/services/catalogue.js';

const single = buildTinyModel({ seed: 7, name: 'tiny-hf' });
const big = buildTinyModel({ seed: 8, name: 'tiny-big', embeddingLength: 128, feedForwardLength: 512 });
const shards = splitGguf(tinyModelDescription({ seed: 9, name: 'tiny-split' }), 3);
const mmproj = buildGguf({ metadata: { 'general.architecture': gguf.str('clip'), 'general.type': gguf.str('mmproj') } });

/**
 * The downloader against the Hub stand-in (two real HTTP servers, the redirect and Range as the
 * Hub does) writing into a real models directory: layouts the router reads, resume, checksum,
 * disk space, Hub errors, names that would escape.
 */
describe(ModelDownloader.name, () => {
  let hub: HfHubStandIn;
  let modelsDir: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    hub = await HfHubStandIn.start({
      repos: [
        { id: 'acme/tiny-GGUF', downloads: 10, files: [{ path: 'README.md', data: Buffer.from('# tiny') }, { path: 'tiny-Q8_0.gguf', data: single }, { path: 'big-F16.gguf', data: big }] },
        { id: 'acme/split-GGUF', files: splitFileNames('Q4_K_M/tiny-split-Q4_K_M', 3).map((path, i) => ({ path, data: shards[i]! })) },
        { id: 'acme/vision-GGUF', files: [{ path: 'vision-Q4_0.gguf', data: single }, { path: 'mmproj-vision-F16.gguf', data: mmproj }] },
        { id: 'acme/gated-GGUF', gated: true, files: [{ path: 'gated-Q8_0.gguf', data: single }] },
        { id: 'acme/corrupt-GGUF', files: [{ path: 'bad-Q8_0.gguf', data: single, corrupt: true }] },
        { id: 'acme/no-gguf', files: [{ path: 'model.safetensors', data: Buffer.from('x') }] },
      ],
    });
  });

  afterAll(async () => {
    await hub?.close();
  });

  afterEach(() => {
    hub.throttle = null;
    for (const dir of dirs.splice(0)) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const newModelsDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-dl-'));
    dirs.push(dir);
    modelsDir = dir;
    return dir;
  };

  const client = (token: string | null = null): HfHubClient => new HfHubClient({ endpoint: hub.endpoint, token });

  async function download(payload: Omit<DownloadPayload, 'revision'>, options: { token?: string | null; sut?: ModelDownloader; cancelled?: () => boolean; progress?: DownloadProgress[] } = {}) {
    const hubClient = client(options.token ?? null);
    const sut = options.sut ?? new ModelDownloader({ modelsDir, hub: hubClient, progressMs: 0 });
    const plan = planDownload({ ...payload, revision: 'main' }, await hubClient.files(payload.repo));
    return sut.run({
      repo: payload.repo,
      revision: 'main',
      plan,
      onProgress: async (p) => void options.progress?.push(p),
      isCancelled: async () => options.cancelled?.() ?? false,
    });
  }

  const errorOf = async (work: Promise<unknown>): Promise<AppError> => {
    const err = await work.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  };

  const leftovers = (): string[] => (existsSync(join(modelsDir, DOWNLOADS_DIR)) ? readdirSync(join(modelsDir, DOWNLOADS_DIR)) : []);

  it('lists a search and a repository tree in the Hub formats', async () => {
    const results = await client().search('GGUF', 10);
    expect(results.map((r) => r.id)).toEqual(expect.arrayContaining(['acme/tiny-GGUF', 'acme/gated-GGUF']));
    expect(results.find((r) => r.id === 'acme/gated-GGUF')?.gated).toBe(true);
    expect(results.some((r) => r.id === 'acme/no-gguf')).toBe(false);
    hub.pageSize = 1;
    try {
      const files = await client().files('acme/split-GGUF');
      expect(files.map((f) => f.path)).toEqual(splitFileNames('Q4_K_M/tiny-split-Q4_K_M', 3));
      expect(files[0]?.sha256).toBe(HfHubStandIn.sha256(shards[0]!));
    } finally {
      hub.pageSize = 1000;
    }
  });

  it('downloads one file as <name>.gguf, verified, and the router finds it', async () => {
    newModelsDir();
    const progress: DownloadProgress[] = [];
    const result = await download({ repo: 'acme/tiny-GGUF', files: ['tiny-Q8_0.gguf'], name: 'tiny-hf' }, { progress });
    expect(result).toEqual({ modelId: 'tiny-hf', path: 'tiny-hf.gguf', bytes: single.length, resumedBytes: 0 });
    expect(readFileSync(join(modelsDir, 'tiny-hf.gguf')).equals(single)).toBe(true);
    expect((await findModels(modelsDir)).map((m) => [m.id, m.layout])).toEqual([['tiny-hf', 'single']]);
    expect(progress.at(-1)?.stage).toBe('installing');
    expect(progress.some((p) => p.stage === 'verifying')).toBe(true);
    expect(leftovers()).toEqual([]);
    // The token went to nobody (none set), and the file came from the second host.
    expect(hub.requests.some((r) => r.host === 'storage')).toBe(true);
  });

  it('downloads a split set into a folder the router reads as one model', async () => {
    newModelsDir();
    const result = await download({ repo: 'acme/split-GGUF', files: splitFileNames('Q4_K_M/tiny-split-Q4_K_M', 3), name: 'tiny-split' });
    expect(result.path).toBe('tiny-split');
    expect(readdirSync(join(modelsDir, 'tiny-split')).sort()).toEqual(splitFileNames('tiny-split-Q4_K_M', 3));
    const [model] = await findModels(modelsDir);
    expect(model).toMatchObject({ id: 'tiny-split', layout: 'multi-shard' });
    expect(model?.main.endsWith('tiny-split-Q4_K_M-00001-of-00003.gguf')).toBe(true);
  });

  it('downloads a model with its projector into one folder (multimodal)', async () => {
    newModelsDir();
    await download({ repo: 'acme/vision-GGUF', files: ['vision-Q4_0.gguf', 'mmproj-vision-F16.gguf'], name: 'vision' });
    const [model] = await findModels(modelsDir);
    expect(model).toMatchObject({ id: 'vision', layout: 'multimodal' });
    expect(model?.mmproj?.endsWith('vision/mmproj-vision-F16.gguf')).toBe(true);
  });

  it('resumes from a partial file with a Range request', async () => {
    newModelsDir();
    const hubClient = client();
    const sut = new ModelDownloader({ modelsDir, hub: hubClient, progressMs: 0 });
    const plan = planDownload({ repo: 'acme/tiny-GGUF', revision: 'main', files: ['big-F16.gguf'], name: 'big' }, await hubClient.files('acme/tiny-GGUF'));
    const kept = Math.floor(big.length / 3);
    const partial = sut.partialPath(plan.files[0]!, 'acme/tiny-GGUF');
    execFileSync('mkdir', ['-p', join(modelsDir, DOWNLOADS_DIR)]);
    writeFileSync(partial, big.subarray(0, kept));
    const before = hub.requests.length;
    const result = await download({ repo: 'acme/tiny-GGUF', files: ['big-F16.gguf'], name: 'big' }, { sut });
    expect(result.resumedBytes).toBe(kept);
    expect(readFileSync(join(modelsDir, 'big.gguf')).equals(big)).toBe(true);
    const ranged = hub.requests.slice(before).filter((r) => r.host === 'storage');
    expect(ranged.map((r) => r.range)).toEqual([`bytes=${kept}-`]);
    expect(existsSync(partial)).toBe(false);
  });

  it('discards a file whose SHA-256 differs from the LFS object id', async () => {
    newModelsDir();
    const err = await errorOf(download({ repo: 'acme/corrupt-GGUF', files: ['bad-Q8_0.gguf'], name: 'bad' }));
    expect(err.code).toBe(ErrorCode.CHECKSUM_MISMATCH);
    expect(err.message).toContain('discarded');
    expect(existsSync(join(modelsDir, 'bad.gguf'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('needs the token for a gated repository: 401 without, the file with it', async () => {
    newModelsDir();
    const err = await errorOf(download({ repo: 'acme/gated-GGUF', files: ['gated-Q8_0.gguf'], name: 'gated' }));
    expect(err.code).toBe(ErrorCode.HF_UNAUTHORIZED);
    expect(err.message).toContain('no HF_TOKEN');
    const wrong = await errorOf(download({ repo: 'acme/gated-GGUF', files: ['gated-Q8_0.gguf'], name: 'gated' }, { token: 'hf_wrong_token_123' }));
    expect(wrong.code).toBe(ErrorCode.HF_UNAUTHORIZED);
    expect(wrong.message).not.toContain('hf_wrong_token_123');
    const before = hub.requests.length;
    await download({ repo: 'acme/gated-GGUF', files: ['gated-Q8_0.gguf'], name: 'gated' }, { token: hub.validToken });
    expect(existsSync(join(modelsDir, 'gated.gguf'))).toBe(true);
    // The token went to the Hub, never to the storage host the Hub redirected to.
    const after = hub.requests.slice(before);
    expect(after.find((r) => r.host === 'hub' && r.path.includes('/resolve/'))?.authorized).toBe(true);
    expect(after.filter((r) => r.host === 'storage').every((r) => !r.authorized)).toBe(true);
    expect(after.some((r) => r.host === 'storage')).toBe(true);
  });

  it('answers a missing repository or file with HF_NOT_FOUND and one without GGUF with HF_NO_GGUF', async () => {
    newModelsDir();
    expect((await errorOf(client().files('acme/nothing-here'))).code).toBe(ErrorCode.HF_NOT_FOUND);
    expect((await errorOf(download({ repo: 'acme/tiny-GGUF', files: ['missing-Q2_K.gguf'], name: 'x' }))).code).toBe(ErrorCode.HF_NOT_FOUND);
    expect((await errorOf(download({ repo: 'acme/no-gguf', files: ['model.safetensors'], name: 'x' }))).code).toBe(ErrorCode.HF_NO_GGUF);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it.each(['../evil', 'a/b', '.hidden', '..', 'x/../../y'])('refuses the name %j (PATH_OUTSIDE_MODELS_DIR) and writes nothing', async (name) => {
    newModelsDir();
    const err = await errorOf(download({ repo: 'acme/tiny-GGUF', files: ['tiny-Q8_0.gguf'], name }));
    expect(err.code).toBe(ErrorCode.PATH_OUTSIDE_MODELS_DIR);
    expect(readdirSync(modelsDir)).toEqual([]);
  });

  it('refuses to start without the free space (DISK_FULL), writing nothing', async () => {
    newModelsDir();
    const sut = new ModelDownloader({ modelsDir, hub: client(), freeBytes: async () => 1024 });
    const err = await errorOf(download({ repo: 'acme/tiny-GGUF', files: ['big-F16.gguf'], name: 'big' }, { sut }));
    expect(err.code).toBe(ErrorCode.DISK_FULL);
    expect(err.message).toMatch(/MiB needed/);
    expect(leftovers()).toEqual([]);
  });

  it('stops a cancelled download and removes its partial file', async () => {
    newModelsDir();
    hub.throttle = { chunkBytes: 4096, delayMs: 5 };
    let calls = 0;
    const err = await errorOf(download({ repo: 'acme/tiny-GGUF', files: ['big-F16.gguf'], name: 'big' }, { cancelled: () => ++calls > 3 }));
    expect(err.code).toBe(ErrorCode.JOB_CANCELLED);
    expect(leftovers()).toEqual([]);
    expect(existsSync(join(modelsDir, 'big.gguf'))).toBe(false);
  });

  it('does not install a download cancelled after its last progress check', async () => {
    newModelsDir();
    const sut = new ModelDownloader({ modelsDir, hub: client(), progressMs: 60_000 });
    const err = await errorOf(download({ repo: 'acme/tiny-GGUF', files: ['tiny-Q8_0.gguf'], name: 'late' }, { sut, cancelled: () => true }));
    expect(err.code).toBe(ErrorCode.JOB_CANCELLED);
    expect(leftovers()).toEqual([]);
    expect(existsSync(join(modelsDir, 'late.gguf'))).toBe(false);
  });

  it('sweeps partial files untouched for longer than the age limit, and keeps fresh ones', async () => {
    newModelsDir();
    const sut = new ModelDownloader({ modelsDir, hub: client() });
    const dir = join(modelsDir, DOWNLOADS_DIR);
    execFileSync('mkdir', ['-p', join(dir, 'old.staging')]);
    writeFileSync(join(dir, 'old.partial'), 'x');
    writeFileSync(join(dir, 'fresh.partial'), 'x');
    const old = new Date(Date.now() - 8 * 86_400_000);
    utimesSync(join(dir, 'old.partial'), old, old);
    utimesSync(join(dir, 'old.staging'), old, old);
    expect(await sut.sweep(7 * 86_400_000)).toBe(2);
    expect(leftovers()).toEqual(['fresh.partial']);
  });

  it('removes the partial file when the disk fills during the download (DISK_FULL)', async (ctx) => {
    const dir = newModelsDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((big.length + 64 * 1024) / 4096) * 4}k`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      ctx.skip(`cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): ${(err as Error).message}`);
    }
    try {
      hub.throttle = { chunkBytes: 8192, delayMs: 10 };
      // The space check passes (the filler is not there yet); the disk fills while the file arrives.
      const sut = new ModelDownloader({ modelsDir, hub: client(), progressMs: 0, freeBytes: async () => Number.MAX_SAFE_INTEGER });
      const running = download({ repo: 'acme/tiny-GGUF', files: ['big-F16.gguf'], name: 'big' }, { sut });
      const partialDir = join(modelsDir, DOWNLOADS_DIR);
      await waitFor(() => existsSync(partialDir) && readdirSync(partialDir).some((f) => statSync(join(partialDir, f)).size > 0), { timeoutMs: 10_000, what: 'a partial file' });
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(modelsDir, 'filler')}`, 'bs=64k'], { stdio: 'pipe' });
      } catch {
        // dd stops with "No space left on device": that is the point.
      }
      const err = await errorOf(running);
      expect(err.code).toBe(ErrorCode.DISK_FULL);
      expect(leftovers()).toEqual([]);
      expect(existsSync(join(modelsDir, 'big.gguf'))).toBe(false);
    } finally {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    }
  });
});
