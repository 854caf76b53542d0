import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyModel } from '@llamaproxy/tests/gguf';
import { CatalogueScanner, findModels } from './catalogue.js';

/** A models directory laid out the way llama-server's router reads it. */
describe(CatalogueScanner.name, () => {
  let dir: string;
  const model = buildTinyModel({ seed: 7 });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-catalogue-'));
    writeFileSync(join(dir, 'single-Q4_K_M.gguf'), model);
    writeFileSync(join(dir, 'mmproj-orphan.gguf'), model); // a companion file on its own: not a model
    mkdirSync(join(dir, 'vision-model'));
    writeFileSync(join(dir, 'vision-model', 'vision-model-F16.gguf'), model);
    writeFileSync(join(dir, 'vision-model', 'mmproj-F16.gguf'), model);
    mkdirSync(join(dir, 'big-model'));
    writeFileSync(join(dir, 'big-model', 'big-model-00001-of-00002.gguf'), model);
    writeFileSync(join(dir, 'big-model', 'big-model-00002-of-00002.gguf'), model);
    mkdirSync(join(dir, 'empty-folder'));
    writeFileSync(join(dir, 'truncated.gguf'), model.subarray(0, 100));
    writeFileSync(join(dir, 'notes.txt'), 'not a model');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds single files, multimodal folders and multi-shard folders like the router', async () => {
    const found = await findModels(dir);
    expect(found.map((m) => [m.id, m.layout])).toEqual([
      ['big-model', 'multi-shard'],
      ['single-Q4_K_M', 'single'],
      ['truncated', 'single'],
      ['vision-model', 'multimodal'],
    ]);
    expect(found.find((m) => m.id === 'big-model')?.main).toMatch(/-00001-of-00002\.gguf$/);
    expect(found.find((m) => m.id === 'vision-model')?.mmproj).toMatch(/mmproj-F16\.gguf$/);
  });

  it('reads each model\'s metadata, sums shards, and reports an unusable file with its reason', async () => {
    const sut = new CatalogueScanner('node', dir);
    const catalogue = await sut.scan();
    const byId = new Map(catalogue.entries.map((e) => [e.id, e]));
    const single = byId.get('single-Q4_K_M');
    expect(single).toMatchObject({ valid: true, architecture: 'llama', contextLength: 2048, sizeBytes: model.length, path: 'single-Q4_K_M.gguf' });
    const big = byId.get('big-model');
    expect(big?.sizeBytes).toBe(2 * model.length);
    expect(big?.parameterCount).toBe(2 * (single?.parameterCount ?? 0));
    expect(byId.get('vision-model')).toMatchObject({ layout: 'multimodal', files: ['vision-model/mmproj-F16.gguf', 'vision-model/vision-model-F16.gguf'] });
    expect(byId.get('truncated')).toMatchObject({ valid: false, invalidReason: expect.stringMatching(/^truncated/) });
  });
});
