import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgufTokenType } from '@llamaproxy/shared';
import { readGguf, readModelInfo } from '@llamaproxy/supervisor/src/gguf/gguf-reader.js';
import { buildTinyModel, TinyModelTokens, writeDemoModels, writeFileIfChanged, writeTinyModel } from './tiny-model.js';

describe(buildTinyModel.name, () => {
  const sut = buildTinyModel;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tiny-model-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function written(buffer: Buffer, name = 'model.gguf'): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, buffer);
    return path;
  }

  it('is byte-identical for the same seed and differs for another', () => {
    const a = sut({ seed: 7 });

    expect(sut({ seed: 7 }).equals(a)).toBe(true);
    expect(sut({ seed: 8 }).equals(a)).toBe(false);
    expect(sut({ seed: 7, name: 'other' }).equals(a)).toBe(false);
  });

  it.each([
    ['F16', 100_000, 400_000],
    ['F32', 200_000, 800_000],
  ] as const)('stays a few hundred KB with %s weights', (tensorType, min, max) => {
    const size = sut({ tensorType }).length;

    expect(size).toBeGreaterThan(min);
    expect(size).toBeLessThan(max);
  });

  it('describes a llama model that the reader summarizes', async () => {
    const path = await written(sut({ name: 'tiny-test', tensorType: 'F16' }), 'tiny-test.gguf');

    const info = await readModelInfo(path);

    expect(info).toEqual({
      architecture: 'llama',
      name: 'tiny-test',
      fileType: 1,
      quantization: 'F16',
      parameterCount: expect.any(Number) as number,
      contextLength: 2048,
      embeddingLength: 64,
      blockCount: 2,
      headCount: 4,
      sizeBytes: (await stat(path)).size,
    });
  });

  it('has the llama tensors in ggml dims order, norms in F32', async () => {
    const path = await written(sut({ tensorType: 'F32', feedForwardLength: 96, headCount: 4, headCountKv: 2 }));

    const file = await readGguf(path);

    const vocab = file.metadata.get('tokenizer.ggml.tokens');
    const nVocab = vocab?.type === 'ARRAY' ? vocab.length : -1;
    const tensors = new Map(file.tensors?.map((t) => [t.name, { dims: t.dims, type: t.typeName }]));
    expect(file.metadata.get('llama.vocab_size')).toEqual({ type: 'UINT32', value: nVocab });
    expect(tensors.get('token_embd.weight')).toEqual({ dims: [64, nVocab], type: 'F32' });
    expect(tensors.get('output.weight')).toEqual({ dims: [64, nVocab], type: 'F32' });
    expect(tensors.get('output_norm.weight')).toEqual({ dims: [64], type: 'F32' });
    expect(tensors.get('blk.1.attn_q.weight')).toEqual({ dims: [64, 64], type: 'F32' });
    expect(tensors.get('blk.1.attn_k.weight')).toEqual({ dims: [64, 32], type: 'F32' });
    expect(tensors.get('blk.1.attn_v.weight')).toEqual({ dims: [64, 32], type: 'F32' });
    expect(tensors.get('blk.1.attn_output.weight')).toEqual({ dims: [64, 64], type: 'F32' });
    expect(tensors.get('blk.1.ffn_gate.weight')).toEqual({ dims: [64, 96], type: 'F32' });
    expect(tensors.get('blk.1.ffn_up.weight')).toEqual({ dims: [64, 96], type: 'F32' });
    expect(tensors.get('blk.1.ffn_down.weight')).toEqual({ dims: [96, 64], type: 'F32' });
    expect(tensors.size).toBe(3 + 2 * 9);
    expect(file.metadata.get('general.file_type')).toEqual({ type: 'UINT32', value: 0 });
    expect(file.metadata.get('llama.rope.dimension_count')).toEqual({ type: 'UINT32', value: 16 });
    const f16 = await readGguf(await written(sut({ tensorType: 'F16' })));
    const types = new Map(f16.tensors?.map((t) => [t.name, t.typeName]));
    expect(types.get('blk.0.ffn_up.weight')).toBe('F16');
    expect(types.get('blk.0.ffn_norm.weight')).toBe('F32');
  });

  it('has an SPM vocabulary whose BYTE tokens are only printable ASCII and newline', async () => {
    const file = await readGguf(await written(sut()), { skipArraysLongerThan: Infinity });
    const tokens = file.metadata.get('tokenizer.ggml.tokens');
    const types = file.metadata.get('tokenizer.ggml.token_type');
    const scores = file.metadata.get('tokenizer.ggml.scores');
    if (tokens?.type !== 'ARRAY' || types?.type !== 'ARRAY' || scores?.type !== 'ARRAY') {
      throw new Error('tokenizer arrays missing');
    }
    const texts = (tokens.items ?? []).map(String);
    const typeOf = (types.items ?? []).map(Number);

    expect(file.metadata.get('tokenizer.ggml.model')).toEqual({ type: 'STRING', value: 'llama' });
    expect(types.length).toBe(tokens.length);
    expect(scores.length).toBe(tokens.length);
    const bytes = texts.filter((_, id) => typeOf[id] === GgufTokenType.BYTE).map((text) => /^<0x([0-9A-F]{2})>$/.exec(text)?.[1]);
    const expected = [0x0a, ...Array.from({ length: 0x7f - 0x20 }, (_, i) => 0x20 + i)];
    expect(bytes.map((hex) => parseInt(hex ?? 'zz', 16))).toEqual(expected);
    // Every other byte has an UNUSED token, so any prompt tokenizes, but is never output.
    const unused = texts.filter((_, id) => typeOf[id] === GgufTokenType.UNUSED);
    expect(unused).toHaveLength(256 - expected.length);
    expect(unused.every((text) => /^<0x[0-9A-F]{2}>$/.test(text))).toBe(true);
    // SPM only merges pairs of known pieces, so each multi-character piece needs its prefix.
    const known = new Set(texts);
    for (const text of texts.filter((_, id) => typeOf[id] === GgufTokenType.NORMAL)) {
      const chars = [...text];
      expect(chars.length === 1 || known.has(chars.slice(0, -1).join('')), text).toBe(true);
    }
    expect(known.has('\u2581')).toBe(true);
    expect(known.has('\u2581hello')).toBe(true);
    expect(new Set(texts).size).toBe(texts.length);
  });

  it('ends a ChatML turn with its EOS token', async () => {
    const file = await readGguf(await written(sut()), { skipArraysLongerThan: Infinity });
    const tokens = file.metadata.get('tokenizer.ggml.tokens');
    const texts = tokens?.type === 'ARRAY' ? (tokens.items ?? []) : [];

    expect(file.metadata.get('tokenizer.ggml.eos_token_id')).toEqual({ type: 'UINT32', value: TinyModelTokens.IM_END });
    expect(texts[TinyModelTokens.IM_END]).toBe('<|im_end|>');
    expect(texts[TinyModelTokens.IM_START]).toBe('<|im_start|>');
    expect(texts[TinyModelTokens.BOS]).toBe('<s>');
    expect(file.metadata.get('tokenizer.ggml.add_bos_token')).toEqual({ type: 'BOOL', value: true });
    const template = file.metadata.get('tokenizer.chat_template');
    expect(template?.type === 'STRING' && template.value).toContain('<|im_start|>assistant\\n');
  });

  it('steers the output: silent tokens never, <|im_end|> only after a sentence end', async () => {
    const buffer = sut({ tensorType: 'F32' });
    const file = await readGguf(await written(buffer), { skipArraysLongerThan: Infinity });
    const tokens = file.metadata.get('tokenizer.ggml.tokens');
    const texts = (tokens?.type === 'ARRAY' ? (tokens.items ?? []) : []).map(String);
    const tensor = (name: string) => {
      const info = file.tensors?.find((t) => t.name === name);
      if (info === undefined || file.dataOffset === null) {
        throw new Error(`no ${name}`);
      }
      const at = file.dataOffset + info.offset;
      const [width = 0] = info.dims;
      /** Row `r` (ne0 = width floats). */
      return (r: number) => Array.from({ length: width }, (_, i) => buffer.readFloatLE(at + (r * width + i) * 4));
    };
    const embedding = tensor('token_embd.weight');
    const output = tensor('output.weight');
    const id = (text: string) => texts.indexOf(text);

    // Channel 0 is a constant, channel 1 marks sentence ends.
    expect(embedding(id('\u2581hello')).slice(0, 2)).toEqual([0.25, 0]);
    expect(embedding(id('<0x2E>')).slice(0, 2)).toEqual([0.25, 0.25]);
    expect(output(id('<0xC3>'))[0]).toBe(-4);
    expect(output(TinyModelTokens.BOS)[0]).toBe(-4);
    expect(output(id('\u2581hello')).slice(0, 2)).toEqual([0, 0]);
    expect(output(TinyModelTokens.IM_END)).toEqual([-4, 6, ...Array<number>(62).fill(0)]);
    // No layer writes to the two channels.
    expect(tensor('blk.1.attn_output.weight')(0).every((w) => w === 0)).toBe(true);
    expect(tensor('blk.1.ffn_down.weight')(1).every((w) => w === 0)).toBe(true);
    expect(tensor('blk.1.ffn_down.weight')(2).some((w) => w !== 0)).toBe(true);
  });

  it('rejects dims that do not split into heads', () => {
    expect(() => sut({ embeddingLength: 60, headCount: 8 })).toThrow(/heads/);
  });
});

describe(writeTinyModel.name, () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tiny-model-write-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes into a new folder and leaves an identical file alone', async () => {
    const path = join(dir, 'sub', 'm.gguf');

    expect(await writeTinyModel(path, { seed: 3 })).toBe(path);
    expect((await readFile(path)).equals(buildTinyModel({ seed: 3 }))).toBe(true);
    expect(await writeFileIfChanged(path, buildTinyModel({ seed: 3 }))).toBe(false);
    expect(await writeFileIfChanged(path, buildTinyModel({ seed: 4 }))).toBe(true);
    expect((await readFile(path)).equals(buildTinyModel({ seed: 4 }))).toBe(true);
  });

  it('writes distinct demo models named like router model ids', async () => {
    const paths = await writeDemoModels(join(dir, 'demo'), { count: 3 });

    expect(paths.map((p) => p.slice(dir.length + 1))).toEqual([
      join('demo', 'tiny-llama-a.gguf'),
      join('demo', 'tiny-llama-b.gguf'),
      join('demo', 'tiny-llama-c.gguf'),
    ]);
    const infos = await Promise.all(paths.map((p) => readModelInfo(p)));
    expect(infos.map((i) => [i.name, i.quantization])).toEqual([
      ['tiny-llama-a', 'F16'],
      ['tiny-llama-b', 'F32'],
      ['tiny-llama-c', 'F16'],
    ]);
  });
});
