import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGguf, buildGgufWithLayout, gguf, type GgufDescription } from '@llamaproxy/tests/gguf-writer';
import { buildTinyModel } from '@llamaproxy/tests/gguf';
import { buildLargeVocabularyHeader } from '@llamaproxy/tests/model-farm';
import { GgufError, GgufErrorReason, guessQuantizationFromFileName, metadataNumber, readGguf, readModelInfo } from './gguf-reader.js';

let dir: string;
let fileCounter = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-reader-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileWith(bytes: Uint8Array, name = `f${fileCounter++}.gguf`): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

/** The GgufError that reading `bytes` throws. */
async function failureOf(bytes: Uint8Array): Promise<GgufError> {
  const error: unknown = await readGguf(await fileWith(bytes)).then(
    () => null,
    (e: unknown) => e,
  );
  if (!(error instanceof GgufError)) {
    throw new Error(`expected a GgufError, got ${String(error)}`);
  }
  return error;
}

const SMALL: GgufDescription = {
  metadata: {
    'general.architecture': gguf.str('llama'),
    'general.name': gguf.str('small'),
    'general.file_type': gguf.u32(15),
    'llama.context_length': gguf.u32(4096),
    'tokenizer.ggml.tokens': gguf.array('STRING', ['a', 'b', 'c']),
  },
  tensors: [
    { name: 'token_embd.weight', type: 'F32', dims: [4, 3], data: new Float32Array(12) },
    { name: 'blk.0.ffn_up.weight', type: 'Q4_K', dims: [256, 2], raw: new Uint8Array(2 * 144) },
  ],
};

describe(readGguf.name, () => {
  const sut = readGguf;

  it('reads header, metadata and tensor infos', async () => {
    const { buffer, layout } = buildGgufWithLayout(SMALL);

    const file = await sut(await fileWith(buffer));

    expect(file).toEqual({
      version: 3,
      tensorCount: 2,
      metadata: new Map(Object.entries(SMALL.metadata)),
      alignment: 32,
      tensors: [
        { name: 'token_embd.weight', dims: [4, 3], elementCount: 12, type: 0, typeName: 'F32', offset: 0, byteSize: 48 },
        { name: 'blk.0.ffn_up.weight', dims: [256, 2], elementCount: 512, type: 12, typeName: 'Q4_K', offset: 64, byteSize: 288 },
      ],
      dataOffset: layout.dataOffset,
      fileSize: buffer.length,
    });
  });

  it('reads version 2', async () => {
    const file = await sut(await fileWith(buildGguf({ ...SMALL, version: 2 })));

    expect(file.version).toBe(2);
  });

  it('skips tensor infos when asked', async () => {
    const file = await sut(await fileWith(buildGguf(SMALL)), { readTensorInfos: false });

    expect(file.tensors).toBeNull();
    expect(file.dataOffset).toBeNull();
    expect(file.tensorCount).toBe(2);
  });

  it('steps over long arrays, keeping their length, and reads what follows', async () => {
    const tokens = Array.from({ length: 5000 }, (_, i) => `token-${i}-${'x'.repeat(i % 40)}`);
    const description: GgufDescription = {
      metadata: {
        'tokenizer.ggml.tokens': gguf.array('STRING', tokens),
        'tokenizer.ggml.scores': gguf.array('FLOAT32', tokens.map((_, i) => i)),
        'tokenizer.ggml.merges': gguf.array('ARRAY', [gguf.array('STRING', tokens.slice(0, 2000)), gguf.array('UINT8', [1])]),
        'tokenizer.ggml.small': gguf.array('INT32', [1, 2, 3]),
        'general.name': gguf.str('after the arrays'),
      },
    };
    const path = await fileWith(buildGguf(description));

    const skipped = await sut(path, { chunkSize: 256 });
    const full = await sut(path, { skipArraysLongerThan: Infinity, chunkSize: 256 });

    expect(skipped.metadata.get('tokenizer.ggml.tokens')).toEqual({ type: 'ARRAY', itemType: 'STRING', length: 5000, items: null });
    expect(skipped.metadata.get('tokenizer.ggml.scores')).toEqual({ type: 'ARRAY', itemType: 'FLOAT32', length: 5000, items: null });
    // The outer array is short: it is read, and its long inner array is skipped.
    expect(skipped.metadata.get('tokenizer.ggml.merges')).toEqual({
      type: 'ARRAY',
      itemType: 'ARRAY',
      length: 2,
      items: [
        { type: 'ARRAY', itemType: 'STRING', length: 2000, items: null },
        { type: 'ARRAY', itemType: 'UINT8', length: 1, items: [1] },
      ],
    });
    expect(skipped.metadata.get('tokenizer.ggml.small')).toEqual(gguf.array('INT32', [1, 2, 3]));
    expect(skipped.metadata.get('general.name')).toEqual(gguf.str('after the arrays'));
    expect(Object.fromEntries(full.metadata)).toEqual(description.metadata);
    const nestedSkipped = await sut(path, { skipArraysLongerThan: 1 });
    expect(nestedSkipped.metadata.get('tokenizer.ggml.merges')).toEqual({ type: 'ARRAY', itemType: 'ARRAY', length: 2, items: null });
    expect(nestedSkipped.metadata.get('general.name')).toEqual(gguf.str('after the arrays'));
  });

  it('reads the same with a tiny first chunk as with the default', async () => {
    const path = await fileWith(buildTinyModel());

    expect(await sut(path, { chunkSize: 1 })).toEqual(await sut(path));
  });

  it.each([
    ['an empty file', Buffer.alloc(0), GgufErrorReason.TRUNCATED, 'truncated: file is empty'],
    ['a file shorter than the magic', Buffer.from('GG'), GgufErrorReason.TRUNCATED, /shorter than the 24-byte GGUF header/],
    ['a short file that is not GGUF', Buffer.from('{}'), GgufErrorReason.NOT_GGUF, 'not a GGUF file: bad magic 0x00007d7b'],
    ['bad magic', Buffer.from('HELLO, this is not a model at all'), GgufErrorReason.NOT_GGUF, 'not a GGUF file: bad magic 0x4c4c4548'],
    ['only a magic', Buffer.from('GGUF'), GgufErrorReason.TRUNCATED, /file is 4 bytes, shorter than/],
  ])('rejects %s', async (_, bytes, reason, message) => {
    const error = await failureOf(bytes);

    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('GgufError');
  });

  it.each([
    [1, /unsupported GGUF version 1 \(supported: 2, 3\)/],
    [4, /unsupported GGUF version 4/],
    [0x03000000, /big-endian/],
  ])('rejects version %d', async (version, message) => {
    const error = await failureOf(buildGguf({ ...SMALL, version }));

    expect(error.reason).toBe(GgufErrorReason.UNSUPPORTED_VERSION);
    expect(error.message).toMatch(message);
  });

  it('says how far the metadata got when the file ends inside it', async () => {
    const buffer = buildGguf(SMALL);
    const fourthKey = buffer.indexOf('llama.context_length') - 8;

    const error = await failureOf(buffer.subarray(0, fourthKey + 10));

    expect(error.reason).toBe(GgufErrorReason.TRUNCATED);
    expect(error.message).toBe('truncated: header says 5 KV pairs, file ends after 3');
  });

  it('says how far the tensor infos got when the file ends inside them', async () => {
    const buffer = buildGguf(SMALL);
    const secondTensor = buffer.indexOf('blk.0.ffn_up.weight') - 8;

    const error = await failureOf(buffer.subarray(0, secondTensor + 3));

    expect(error.message).toBe('truncated: header says 2 tensor infos, file ends after 1');
  });

  it('notices tensor data cut short', async () => {
    const buffer = buildGguf(SMALL);

    const error = await failureOf(buffer.subarray(0, buffer.length - 40));

    expect(error.reason).toBe(GgufErrorReason.TRUNCATED);
    expect(error.message).toMatch(/^truncated: data of tensor "blk.0.ffn_up.weight" ends at byte \d+, file has \d+ bytes$/);
  });

  it('reports TRUNCATED for a file cut at any byte', async () => {
    const buffer = buildGguf(SMALL);
    const reasons = new Set<string>();

    for (let length = 0; length < buffer.length - 32; length += 3) {
      reasons.add((await failureOf(buffer.subarray(0, length))).reason);
    }

    expect([...reasons]).toEqual([GgufErrorReason.TRUNCATED]);
  });

  describe('corruption', () => {
    /** SMALL, changed by `write` at `delta` bytes from the first occurrence of `anchor` (or the start). */
    function patched(anchor: string, delta: number, write: (b: Buffer, at: number) => void): Buffer {
      const buffer = Buffer.from(buildGguf(SMALL));
      const at = anchor === '' ? delta : buffer.indexOf(anchor) + delta;
      write(buffer, at);
      return buffer;
    }

    it.each([
      ['an absurd key length', patched('general.architecture', -8, (b, at) => b.writeBigUInt64LE(2n ** 40n, at)), /absurd length of metadata key/],
      ['an absurd string length', patched('small', -8, (b, at) => b.writeBigUInt64LE(2n ** 62n, at)), /absurd length of value of "general.name"/],
      ['an absurd KV count', patched('', 16, (b, at) => b.writeBigUInt64LE(2n ** 50n, at)), /absurd metadata KV count/],
      ['an absurd tensor count', patched('', 8, (b, at) => b.writeBigUInt64LE(2n ** 33n, at)), /absurd tensor count/],
      ['an unknown value type', patched('general.architecture', 20, (b, at) => b.writeUInt32LE(77, at)), /"general.architecture" has unknown value type 77/],
      ['too many tensor dimensions', patched('token_embd.weight', 17, (b, at) => b.writeUInt32LE(5, at)), /has 5 dimensions/],
      ['a misaligned tensor offset', patched('blk.0.ffn_up.weight', 19 + 4 + 16 + 4, (b, at) => b.writeBigUInt64LE(40n, at)), /offset 40, not a multiple/],
      ['a block-size mismatch', patched('blk.0.ffn_up.weight', 19 + 4, (b, at) => b.writeBigUInt64LE(100n, at)), /ne0 100, not a multiple of its block size 256/],
    ])('rejects %s', async (_, bytes, message) => {
      const error = await failureOf(bytes);

      expect(error.reason).toBe(GgufErrorReason.CORRUPT);
      expect(error.message).toMatch(message);
    });

    it('rejects an absurd array length', async () => {
      const buffer = Buffer.from(buildGguf({ metadata: { list: gguf.array('UINT8', [1, 2]) } }));
      buffer.writeBigUInt64LE(2n ** 40n, buffer.indexOf('list') + 4 + 4 + 4); // key, ARRAY, item type

      const error = await failureOf(buffer);

      expect(error.reason).toBe(GgufErrorReason.CORRUPT);
      expect(error.message).toMatch(/absurd length of array "list"/);
    });

    it('rejects a duplicate key', async () => {
      const buffer = Buffer.from(buildGguf({ metadata: { 'k.one': gguf.u8(1), 'k.two': gguf.u8(2) } }));
      buffer.write('k.one', buffer.indexOf('k.two'));

      const error = await failureOf(buffer);

      expect(error.reason).toBe(GgufErrorReason.CORRUPT);
      expect(error.message).toBe('corrupt: duplicate metadata key "k.one"');
    });

    it('rejects a duplicate tensor name', async () => {
      const buffer = Buffer.from(
        buildGguf({
          metadata: {},
          tensors: [
            { name: 't.a', type: 'F32', dims: [1], data: [1] },
            { name: 't.b', type: 'F32', dims: [1], data: [2] },
          ],
        }),
      );
      buffer.write('t.a', buffer.indexOf('t.b'));

      const error = await failureOf(buffer);

      expect(error.message).toBe('corrupt: duplicate tensor "t.a"');
    });

    it('rejects an alignment that is not a power of two', async () => {
      const buffer = Buffer.from(buildGguf({ metadata: { 'general.alignment': gguf.u32(32) } }));
      buffer.writeUInt32LE(24, buffer.indexOf('general.alignment') + 'general.alignment'.length + 4);

      const error = await failureOf(buffer);

      expect(error.reason).toBe(GgufErrorReason.CORRUPT);
      expect(error.message).toMatch(/general.alignment must be a UINT32 power of two, got UINT32 24/);
    });
  });
});

describe(readModelInfo.name, () => {
  const sut = readModelInfo;

  it('summarizes a tiny model', async () => {
    const path = await fileWith(buildTinyModel({ name: 'summary', tensorType: 'F32' }), 'summary.gguf');

    const info = await sut(path);

    const file = await readGguf(path);
    expect(info).toEqual({
      architecture: 'llama',
      name: 'summary',
      fileType: 0,
      quantization: 'F32',
      parameterCount: (file.tensors ?? []).reduce((sum, t) => sum + t.elementCount, 0),
      contextLength: 2048,
      embeddingLength: 64,
      blockCount: 2,
      headCount: 4,
      sizeBytes: file.fileSize,
    });
    expect(info.parameterCount).toBeGreaterThan(100_000);
  });

  it('names the quantization from general.file_type before the file name', async () => {
    const info = await sut(await fileWith(buildGguf(SMALL), 'small-Q8_0.gguf'));

    expect(info.quantization).toBe('Q4_K_M');
    expect(info.parameterCount).toBe(12 + 512);
    expect(info.contextLength).toBe(4096);
    expect(info.embeddingLength).toBeNull();
  });

  it('gives the same summary for a 151,936-token header whether its arrays are skipped or decoded', async () => {
    const path = await fileWith(buildLargeVocabularyHeader(), 'qwen2-like.gguf');

    const skipped = await sut(path);
    const decoded = await sut(path, { skipArraysLongerThan: Infinity });
    const tinyChunks = await sut(path, { chunkSize: 64 });

    expect(skipped).toEqual(decoded);
    expect(tinyChunks).toEqual(decoded);
    expect(skipped).toMatchObject({ architecture: 'qwen2', name: 'large-vocabulary header', quantization: 'Q4_K_M', contextLength: 32_768, blockCount: 28 });
    const file = await readGguf(path);
    expect(file.metadata.get('tokenizer.ggml.tokens')).toEqual({ type: 'ARRAY', itemType: 'STRING', length: 151_936, items: null });
    expect(file.metadata.get('tokenizer.ggml.merges')).toMatchObject({ length: 75_968, items: null });
    expect(file.metadata.get('tokenizer.ggml.eos_token_id')).toEqual(gguf.u32(151_645));
  });

  it.each([
    ['over 32 bits (high word not zero)', 1n << 40n],
    ['under 32 bits but over the largest string', 1n << 30n],
  ])('refuses a skipped string array whose item length is absurd, %s, naming the key', async (_case, length) => {
    const bytes = Buffer.from(buildGguf({ metadata: { 'tokenizer.ggml.tokens': gguf.array('STRING', Array.from({ length: 2000 }, (_, i) => `t${i}`)) } }));
    // The 1,000th item's length: after the header (24), the key (8 + 21), the types and count (4 + 4 + 8) and 999 items.
    let at = 24 + 8 + 'tokenizer.ggml.tokens'.length + 4 + 4 + 8;
    for (let i = 0; i < 999; i++) {
      at += 8 + Number(bytes.readBigUInt64LE(at));
    }
    bytes.writeBigUInt64LE(length, at);

    const error: unknown = await sut(await fileWith(bytes)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(GgufError);
    expect(error).toMatchObject({ reason: GgufErrorReason.CORRUPT, message: expect.stringContaining(`"tokenizer.ggml.tokens" ${length}`) });
  });

  it('guesses the quantization from the file name without general.file_type', async () => {
    const info = await sut(await fileWith(buildGguf({ metadata: { 'general.file_type': gguf.u32(99) } }), 'Some-Model-7B.IQ4_XS.gguf'));

    expect(info).toMatchObject({ architecture: null, name: null, fileType: 99, quantization: 'IQ4_XS', parameterCount: 0, contextLength: null });
  });
});

describe(guessQuantizationFromFileName.name, () => {
  const sut = guessQuantizationFromFileName;

  it.each([
    ['Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf', 'Q4_K_M'],
    ['/models/sub/model.q8_0.gguf', 'Q8_0'],
    ['gemma-2b-f16.gguf', 'F16'],
    ['x-BF16.gguf', 'BF16'],
    ['Qwen3-30B-A3B-UD-Q4_K_XL.gguf', 'Q4_K_XL'],
    ['model-IQ2_XXS.gguf', 'IQ2_XXS'],
    ['gpt-oss-20b-MXFP4.gguf', 'MXFP4'],
    ['model-Q4_K_M-00001-of-00003.gguf', 'Q4_K_M'],
    ['tiny-llama-a.gguf', null],
    ['AQ4_K_M.gguf', null],
  ])('%s → %s', (fileName, expected) => {
    expect(sut(fileName)).toBe(expected);
  });
});

describe(metadataNumber.name, () => {
  const sut = metadataNumber;

  it.each([
    [gguf.u32(7), 7],
    [gguf.u64(8n), 8],
    [gguf.f32(0.5), 0.5],
    [gguf.str('7'), null],
    [gguf.array('INT32', [4, 8, 2]), 8],
    [undefined, null],
  ])('reads %o as %s', (value, expected) => {
    expect(sut(new Map(value === undefined ? [] : [['k', value]]), 'k')).toBe(expected);
  });
});
