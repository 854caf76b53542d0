import { describe, expect, it } from 'vitest';
import { extraArgsPolicyProblems } from './arg-policy.js';
import { checkDownloadName, fitsNodeMemory, groupRepoFiles, quantizationOf, type HfRepoFile } from './downloads.js';
import { AppError, ErrorCode } from './errors.js';
import type { MetricsSample } from './metrics.js';

const file = (path: string, sizeBytes = 100): HfRepoFile => ({ path, sizeBytes, sha256: null });

describe('quantizationOf', () => {
  it.each([
    ['Qwen3-8B-Q4_K_M.gguf', 'Q4_K_M'],
    ['Q4_K_M/Qwen3-8B-Q4_K_M-00001-of-00002.gguf', 'Q4_K_M'],
    ['model.IQ3_XXS.gguf', 'IQ3_XXS'],
    ['gemma-3-4b-it-q8_0.gguf', 'Q8_0'],
    ['mmproj-model-f16.gguf', 'F16'],
    ['Llama-3.2-1B-Instruct-BF16.gguf', 'BF16'],
    ['model-UD-Q4_K_XL.gguf', 'UD-Q4_K_XL'],
    ['tinyllama.gguf', null],
  ])('%s → %s', (path, quant) => {
    expect(quantizationOf(path)).toBe(quant);
  });
});

describe('groupRepoFiles', () => {
  it('makes one row per model file, one per split set (shards in order), projectors apart, no other files', () => {
    const sut = groupRepoFiles([
      file('README.md'),
      file('big/m-Q8_0-00002-of-00002.gguf', 300),
      file('m-Q4_K_M.gguf', 200),
      file('big/m-Q8_0-00001-of-00002.gguf', 300),
      file('mmproj-m-F16.gguf', 50),
      file('model.safetensors'),
    ]);
    expect(sut.map((g) => [g.kind, g.key, g.quantization, g.suggestedName, g.sizeBytes, g.complete, g.files.map((f) => f.path)])).toEqual([
      ['model', 'm-Q4_K_M.gguf', 'Q4_K_M', 'm-Q4_K_M', 200, true, ['m-Q4_K_M.gguf']],
      ['model', 'big/m-Q8_0', 'Q8_0', 'm-Q8_0', 600, true, ['big/m-Q8_0-00001-of-00002.gguf', 'big/m-Q8_0-00002-of-00002.gguf']],
      ['mmproj', 'mmproj-m-F16.gguf', 'F16', 'mmproj-m-F16', 50, true, ['mmproj-m-F16.gguf']],
    ]);
  });

  it('marks a split set with a missing shard incomplete', () => {
    const [sut] = groupRepoFiles([file('m-00001-of-00003.gguf'), file('m-00003-of-00003.gguf')]);
    expect(sut?.complete).toBe(false);
  });

  it('is empty for a repository without GGUF files', () => {
    expect(groupRepoFiles([file('model.safetensors'), file('config.json')])).toEqual([]);
  });
});

describe('checkDownloadName', () => {
  it.each(['tiny', 'Qwen3-8B-Q4_K_M', 'a.b_c-1'])('accepts %j', (name) => {
    expect(checkDownloadName(name)).toBe(name);
  });

  it.each(['../x', 'a/b', '..', '.hidden', 'a\\b', '', 'x/../../y', 'a..b', '/abs'])('refuses %j with PATH_OUTSIDE_MODELS_DIR', (name) => {
    const err = (() => {
      try {
        checkDownloadName(name);
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe(ErrorCode.PATH_OUTSIDE_MODELS_DIR);
  });
});

describe('fitsNodeMemory', () => {
  const GiB = 1024 ** 3;
  const sample = (ramBytes: number, vram: number[] = []): MetricsSample =>
    ({ memory: { totalBytes: ramBytes }, gpus: vram.map((memoryTotalBytes) => ({ memoryTotalBytes })) }) as unknown as MetricsSample;

  it.each([
    [4 * GiB, sample(8 * GiB), true],
    [7 * GiB, sample(8 * GiB), false],
    [7 * GiB, sample(8 * GiB, [24 * GiB]), true],
    [30 * GiB, sample(64 * GiB, [24 * GiB]), true],
  ])('%d bytes → %s', (size, s, fits) => {
    expect(fitsNodeMemory(size, s)).toBe(fits);
  });

  it('is null without figures', () => {
    expect(fitsNodeMemory(1, null)).toBeNull();
  });
});

describe('the flag policy with a writable models directory', () => {
  it('still refuses llama-server flags that write files or download', () => {
    const problems = extraArgsPolicyProblems(['--slot-save-path', '/models/x', '--log-file', '/models/log', '-hf', 'acme/x', '--hf-repo', 'acme/y'], { args: null, modelsDir: '/models', allow: [] });
    expect(problems.map((p) => p.flag)).toEqual(expect.arrayContaining(['--slot-save-path', '--log-file', '--hf-repo']));
  });
});
