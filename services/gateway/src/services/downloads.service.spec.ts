import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode, type DownloadPayload, type DownloadView, type HfRepoFile, type MetricsSample } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { DownloadService, type DownloadServiceDeps } from './downloads.service.js';

const view = (over: Partial<DownloadView> = {}): DownloadView => ({
  id: 'dl-1', nodeId: 'n', repo: 'acme/x', files: ['x-Q8_0.gguf'], name: 'x-Q8_0', state: 'queued',
  progress: null, result: null, error: null, createdAt: 1, finishedAt: null, ...over,
});

function setup(options: { enabled?: boolean; tree?: HfRepoFile[]; sample?: MetricsSample | null } = {}) {
  const added: DownloadPayload[] = [];
  const broadcasts: DownloadView[] = [];
  const seen = new Set<string>();
  let current = view();
  const deps: DownloadServiceDeps = {
    queue: {
      add: async (payload) => {
        added.push(payload);
        current = view({ id: `dl-${added.length}`, name: payload.name, files: payload.files });
        return current;
      },
      get: async () => current,
      list: async () => [current],
      cancel: async () => ({ ...current, state: 'cancelled' }),
    },
    hub: { search: async () => [], files: async () => options.tree ?? [] },
    latestMetrics: () => options.sample ?? null,
    broadcaster: { broadcast: async (_event, data) => void broadcasts.push((data as { download: DownloadView }).download) },
    activity: { record: async () => undefined },
    // SET NX as Redis answers it: "OK" the first time, null after.
    redis: { set: (async (key: string) => (seen.has(key) ? null : (seen.add(key), 'OK'))) as unknown as DownloadServiceDeps['redis']['set'] },
    enabled: options.enabled ?? true,
    logger: createLogger({ service: 'test', level: 'error' }),
  };
  return { sut: new DownloadService(deps), added, broadcasts, setCurrent: (v: DownloadView) => (current = v) };
}

const codeOf = async (p: Promise<unknown>): Promise<string | null> => p.then(() => null, (e: unknown) => (e instanceof AppError ? e.code : String(e)));

describe(DownloadService.name, () => {
  it('queues a download under the row’s suggested name unless one is given, and broadcasts it', async () => {
    const { sut, added, broadcasts } = setup();
    await sut.start({ repo: 'acme/x', revision: 'main', files: ['sub/x-Q8_0-00001-of-00002.gguf', 'sub/x-Q8_0-00002-of-00002.gguf'] });
    await sut.start({ repo: 'acme/x', revision: 'main', files: ['x-Q8_0.gguf', 'mmproj-x-F16.gguf'], name: 'vision' });
    expect(added.map((p) => p.name)).toEqual(['x-Q8_0', 'vision']);
    expect(broadcasts.map((d) => d.name)).toEqual(['x-Q8_0', 'vision']);
  });

  it.each([
    [{ files: ['x.gguf'], name: '../up' }, ErrorCode.PATH_OUTSIDE_MODELS_DIR],
    [{ files: ['mmproj-x-F16.gguf'] }, ErrorCode.HF_NO_GGUF],
    [{ files: ['README.md'] }, ErrorCode.HF_NO_GGUF],
  ])('%#: refuses %j with %s and queues nothing', async (req, code) => {
    const { sut, added } = setup();
    expect(await codeOf(sut.start({ repo: 'acme/x', revision: 'main', ...req }))).toBe(code);
    expect(added).toEqual([]);
  });

  it('refuses every download when switched off (DOWNLOADS_DISABLED)', async () => {
    const { sut, added } = setup({ enabled: false });
    expect(await codeOf(sut.start({ repo: 'acme/x', revision: 'main', files: ['x.gguf'] }))).toBe(ErrorCode.DOWNLOADS_DISABLED);
    expect(added).toEqual([]);
  });

  it('lists a repository with what fits, and refuses one without a GGUF model', async () => {
    const GiB = 1024 ** 3;
    const sample = { memory: { totalBytes: 16 * GiB }, gpus: [] } as unknown as MetricsSample;
    const tree = [{ path: 'small-Q4_0.gguf', sizeBytes: 2 * GiB, sha256: null }, { path: 'big-F16.gguf', sizeBytes: 15 * GiB, sha256: null }];
    const { sut } = setup({ tree, sample });
    expect((await sut.files('acme/x', 'main')).map((g) => [g.quantization, g.fits])).toEqual([['Q4_0', true], ['F16', false]]);
    const bare = setup({ tree: [{ path: 'mmproj-F16.gguf', sizeBytes: 1, sha256: null }] });
    expect(await codeOf(bare.sut.files('acme/x', 'main'))).toBe(ErrorCode.HF_NO_GGUF);
  });

  it('relays each queue event once, however many replicas hear it', async () => {
    const { sut, broadcasts, setCurrent } = setup();
    setCurrent(view({ state: 'active', progress: { stage: 'downloading', bytesDone: 10, bytesTotal: 100, bytesPerSec: 1, etaSec: 90, file: 'x.gguf' } }));
    await sut.onEvent('dl-1', 'progress');
    await sut.onEvent('dl-1', 'progress');
    setCurrent(view({ state: 'completed' }));
    await sut.onEvent('dl-1', 'completed');
    expect(broadcasts.map((d) => d.state)).toEqual(['active', 'completed']);
  });
});
