import { describe, expect, it } from 'vitest';
import type { DownloadView } from '@llamaproxy/shared';
import { downloadFraction, downloadLine, fitsText, mergeDownload } from './download-text.js';

const view = (over: Partial<DownloadView>): DownloadView => ({
  id: 'a',
  nodeId: 'n',
  repo: 'acme/x',
  files: ['x.gguf'],
  name: 'x',
  state: 'active',
  progress: null,
  result: null,
  error: null,
  createdAt: 1,
  finishedAt: null,
  ...over,
});

describe('downloadLine', () => {
  it.each([
    [view({ progress: { stage: 'downloading', bytesDone: 12 * 1048576, bytesTotal: 40 * 1048576, bytesPerSec: 2 * 1048576, etaSec: 14, file: 'x.gguf' } }), '12.0 MiB of 40.0 MiB · 2.00 MiB/s · 14s left'],
    [view({ progress: { stage: 'verifying', bytesDone: 40, bytesTotal: 40, bytesPerSec: 0, etaSec: 0, file: 'x.gguf' } }), '40 B of 40 B · verifying'],
    [view({}), 'checking the repository…'],
    [view({ state: 'failed', error: { code: 'CHECKSUM_MISMATCH', message: 'discarded' } }), 'CHECKSUM_MISMATCH: discarded'],
    [view({ state: 'queued', error: { code: 'HF_UNAVAILABLE', message: 'broke off' } }), 'retrying after HF_UNAVAILABLE: broke off'],
    [view({ state: 'completed', result: { modelId: 'x', path: 'x.gguf', bytes: 2048, resumedBytes: 1024 } }), 'done: 2.00 KiB (resumed after 1.00 KiB)'],
  ])('%#: %s', (d, text) => {
    expect(downloadLine(d)).toBe(text);
  });

  it('gives the fraction done, null while the size is unknown', () => {
    expect(downloadFraction(view({}))).toBeNull();
    expect(downloadFraction(view({ progress: { stage: 'downloading', bytesDone: 1, bytesTotal: 4, bytesPerSec: 0, etaSec: null, file: null } }))).toBe(0.25);
    expect(downloadFraction(view({ state: 'completed' }))).toBe(1);
  });

  it('names whether a row fits', () => {
    expect([fitsText({ fits: true }), fitsText({ fits: false }), fitsText({ fits: null })]).toEqual(['fits', 'too large', 'unknown']);
  });

  it('merges a changed download by id, running first', () => {
    const done = view({ id: 'done', state: 'completed', createdAt: 5 });
    const running = view({ id: 'run', state: 'active', createdAt: 1 });
    expect(mergeDownload([done], running).map((d) => d.id)).toEqual(['run', 'done']);
    expect(mergeDownload([done, running], { ...running, state: 'failed' }).map((d) => [d.id, d.state])).toEqual([['done', 'completed'], ['run', 'failed']]);
  });
});
