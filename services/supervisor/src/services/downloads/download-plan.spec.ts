import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode, type HfRepoFile } from '@llamaproxy/shared';
import { planDownload } from './download-plan.js';

const sha = (c: string): string => c.repeat(64);
const tree: HfRepoFile[] = [
  { path: 'README.md', sizeBytes: 10, sha256: null },
  { path: 'm-Q4_K_M.gguf', sizeBytes: 100, sha256: sha('a') },
  { path: 'Q8_0/m-Q8_0-00001-of-00002.gguf', sizeBytes: 200, sha256: sha('b') },
  { path: 'Q8_0/m-Q8_0-00002-of-00002.gguf', sizeBytes: 300, sha256: sha('c') },
  { path: 'mmproj-m-F16.gguf', sizeBytes: 50, sha256: sha('d') },
  { path: 'sub/..evil.gguf', sizeBytes: 1, sha256: null },
];

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
}

describe('planDownload', () => {
  it('lays one file out as <name>.gguf', () => {
    const sut = planDownload({ repo: 'a/b', revision: 'main', files: ['m-Q4_K_M.gguf'], name: 'm' }, tree);
    expect(sut).toEqual({ modelId: 'm', layout: 'file', target: 'm.gguf', totalBytes: 100, files: [{ repoPath: 'm-Q4_K_M.gguf', sizeBytes: 100, sha256: sha('a'), fileName: 'm.gguf' }] });
  });

  it('lays a split set out as a folder of its shards, in order', () => {
    const sut = planDownload({ repo: 'a/b', revision: 'main', files: ['Q8_0/m-Q8_0-00002-of-00002.gguf', 'Q8_0/m-Q8_0-00001-of-00002.gguf'], name: 'm8' }, tree);
    expect(sut.layout).toBe('folder');
    expect(sut.target).toBe('m8');
    expect(sut.files.map((f) => f.fileName)).toEqual(['m-Q8_0-00001-of-00002.gguf', 'm-Q8_0-00002-of-00002.gguf']);
    expect(sut.totalBytes).toBe(500);
  });

  it('puts a model and its projector in one folder', () => {
    const sut = planDownload({ repo: 'a/b', revision: 'main', files: ['m-Q4_K_M.gguf', 'mmproj-m-F16.gguf'], name: 'vision' }, tree);
    expect(sut.layout).toBe('folder');
    expect(sut.files.map((f) => f.fileName)).toEqual(['m-Q4_K_M.gguf', 'mmproj-m-F16.gguf']);
  });

  it.each([
    [{ files: ['nope.gguf'], name: 'x' }, ErrorCode.HF_NOT_FOUND],
    [{ files: ['README.md'], name: 'x' }, ErrorCode.HF_NO_GGUF],
    [{ files: ['m-Q4_K_M.gguf', 'Q8_0/m-Q8_0-00001-of-00002.gguf', 'Q8_0/m-Q8_0-00002-of-00002.gguf'], name: 'x' }, ErrorCode.VALIDATION_FAILED],
    [{ files: ['Q8_0/m-Q8_0-00001-of-00002.gguf'], name: 'x' }, ErrorCode.VALIDATION_FAILED],
    [{ files: ['mmproj-m-F16.gguf'], name: 'x' }, ErrorCode.VALIDATION_FAILED],
    [{ files: ['m-Q4_K_M.gguf'], name: '../x' }, ErrorCode.PATH_OUTSIDE_MODELS_DIR],
    [{ files: ['sub/..evil.gguf', 'mmproj-m-F16.gguf'], name: 'x' }, ErrorCode.PATH_OUTSIDE_MODELS_DIR],
  ])('%#: refuses %j with %s', (req, code) => {
    expect(codeOf(() => planDownload({ repo: 'a/b', revision: 'main', ...req }, tree))).toBe(code);
  });

  it('refuses a repository without GGUF files', () => {
    expect(codeOf(() => planDownload({ repo: 'a/b', revision: 'main', files: ['x.gguf'], name: 'x' }, [{ path: 'w.safetensors', sizeBytes: 1, sha256: null }]))).toBe(ErrorCode.HF_NO_GGUF);
  });
});
