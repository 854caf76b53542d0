import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FootprintSettings } from '@llamaproxy/shared';
import { buildTinyModel, type TinyModelOptions } from '@llamaproxy/tests/gguf';
import { readGguf } from '../../gguf/gguf-reader.js';
import { computeBufferBytes, estimateFootprint, footprintSettingsFrom, GPU_CONTEXT_BYTES, kvCacheBytes, modelShape, PROCESS_OVERHEAD_BYTES, type ModelShape } from './footprint-estimator.js';

const settings: FootprintSettings = { ctxSize: 512, parallel: 1, cacheTypeK: 'f16', cacheTypeV: 'f16', gpuLayers: 'auto' };

describe(estimateFootprint.name, () => {
  let dir: string;
  const shapeOf = async (name: string, options: TinyModelOptions): Promise<ModelShape> => {
    const path = join(dir, `${name}.gguf`);
    await writeFile(path, buildTinyModel(options));
    return modelShape([await readGguf(path)]);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'footprint-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the shape of a header of known dimensions', async () => {
    // F32, embedding 128, 3 blocks, 8 heads over 2 KV heads, feed-forward 256.
    const sut = await shapeOf('known', { tensorType: 'F32', embeddingLength: 128, blockCount: 3, headCount: 8, headCountKv: 2, feedForwardLength: 256, contextLength: 1024 });
    expect(sut).toMatchObject({ layerCount: 3, embeddingLength: 128, feedForwardLength: 256, headCount: 8, headCountKv: 2, keyLength: 16, valueLength: 16, contextLength: 1024 });
    // One block: q, k, v, o (128x128, 128x32 twice, 128x128), gate/up/down (128x256 x3), two norms (128), all F32.
    const block = 4 * (128 * 128 * 2 + 128 * 32 * 2 + 3 * 128 * 256 + 2 * 128);
    expect(sut.layerBytes).toEqual([block, block, block]);
    expect(sut.vocabSize).toBeGreaterThan(256);
    // token_embd in host memory; output and output_norm offload with the last layer.
    expect(sut.hostBytes).toBe(4 * 128 * sut.vocabSize);
    expect(sut.outputBytes).toBe(4 * (128 * sut.vocabSize + 128));
  });

  it('computes the KV cache from layers, KV heads, head size, context and cache type', async () => {
    const shape = await shapeOf('kv', { embeddingLength: 128, blockCount: 4, headCount: 8, headCountKv: 2 });
    // 4 layers x 512 cells x 2 KV heads x (16 + 16) x 2 bytes (f16).
    expect(kvCacheBytes(shape, settings, 4)).toBe(4 * 512 * 2 * 32 * 2);
    // q8_0 is 34 bytes per 32 elements; the context is padded to 256 cells.
    expect(kvCacheBytes(shape, { ...settings, ctxSize: 300, cacheTypeK: 'q8_0', cacheTypeV: 'q8_0' }, 4)).toBe(4 * 512 * 2 * 32 * (34 / 32));
    // 0 = the training context (2048 by default).
    expect(kvCacheBytes(shape, { ...settings, ctxSize: 0 }, 4)).toBe(4 * 2048 * 2 * 32 * 2);
  });

  it('puts everything in host memory without a GPU: weights, KV cache, compute buffers and the process', async () => {
    const shape = await shapeOf('cpu', { tensorType: 'F32', embeddingLength: 256, blockCount: 2, headCount: 8, headCountKv: 2, feedForwardLength: 1024 });
    const weights = shape.hostBytes + shape.outputBytes + shape.layerBytes.reduce((a, b) => a + b, 0);
    const sut = estimateFootprint(shape, settings, []);
    expect(Object.keys(sut)).toEqual(['cpu']);
    expect(sut.cpu).toBe(PROCESS_OVERHEAD_BYTES + weights + kvCacheBytes(shape, settings, 2) + computeBufferBytes(shape, settings));
  });

  it('offloads the last N blocks to the GPU, the output layer only with all of them', async () => {
    const shape = await shapeOf('gpu', { tensorType: 'F16', embeddingLength: 128, blockCount: 4, headCount: 4 });
    const block = shape.layerBytes[0] ?? 0;
    const two = estimateFootprint(shape, { ...settings, gpuLayers: 2 }, ['cuda0']);
    const all = estimateFootprint(shape, { ...settings, gpuLayers: 'all' }, ['cuda0']);
    const none = estimateFootprint(shape, { ...settings, gpuLayers: 0 }, ['cuda0']);
    expect(none.cuda0).toBeUndefined();
    expect((two.cuda0 ?? 0) - GPU_CONTEXT_BYTES).toBe(2 * block + kvCacheBytes(shape, settings, 2) + computeBufferBytes(shape, settings));
    expect((all.cuda0 ?? 0) - (two.cuda0 ?? 0)).toBe(2 * block + shape.outputBytes + kvCacheBytes(shape, settings, 2));
    expect((two.cpu ?? 0) - (all.cpu ?? 0)).toBe(2 * block + shape.outputBytes + kvCacheBytes(shape, settings, 2));
  });

  it('grows with the context and the number of slots does not change the KV cache (it is shared)', async () => {
    const shape = await shapeOf('ctx', { embeddingLength: 128, blockCount: 2 });
    const small = estimateFootprint(shape, settings, []).cpu ?? 0;
    const large = estimateFootprint(shape, { ...settings, ctxSize: 8192 }, []).cpu ?? 0;
    expect(large - small).toBeGreaterThanOrEqual(kvCacheBytes(shape, { ...settings, ctxSize: 8192 }, 2) - kvCacheBytes(shape, settings, 2));
    expect(kvCacheBytes(shape, { ...settings, parallel: 4 }, 2)).toBe(kvCacheBytes(shape, settings, 2));
  });
});

describe(footprintSettingsFrom.name, () => {
  it('takes flags in order (later wins), both spellings, then preset values', () => {
    const sut = footprintSettingsFrom(
      settings,
      [
        ['--ctx-size', '4096', '-np', '2', '--n-gpu-layers', 'all'],
        ['-c', '8192', '--cache-type-k=q8_0'],
      ],
      [{ 'cache-type-v': 'Q4_0' }, { ngl: '12' }],
    );
    expect(sut).toEqual({ ctxSize: 8192, parallel: 2, cacheTypeK: 'q8_0', cacheTypeV: 'q4_0', gpuLayers: 12 });
  });

  it('ignores values that are not valid', () => {
    expect(footprintSettingsFrom(settings, [['--parallel', '0', '-c', 'x', '-ngl', '-1']])).toEqual(settings);
  });
});
