import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GgufValue } from '@llamaproxy/shared';
import { readGguf } from '@llamaproxy/supervisor/src/gguf/gguf-reader.js';
import { buildGguf, buildGgufWithLayout, float32ToFloat16Bits, gguf, type GgufDescription } from './gguf-writer.js';

const ALL_TYPES: Record<string, GgufValue> = {
  'test.uint8': gguf.u8(255),
  'test.int8': gguf.i8(-128),
  'test.uint16': gguf.u16(65535),
  'test.int16': gguf.i16(-32768),
  'test.uint32': gguf.u32(4294967295),
  'test.int32': gguf.i32(-2147483648),
  'test.float32': gguf.f32(1.5),
  'test.float64': gguf.f64(Math.PI),
  'test.uint64': gguf.u64(2n ** 64n - 1n),
  'test.int64': gguf.i64(-(2n ** 63n)),
  'test.bool.true': gguf.bool(true),
  'test.bool.false': gguf.bool(false),
  'test.string': gguf.str('héllo ▁ 🦙\nworld'),
  'test.string.empty': gguf.str(''),
  'test.array.strings': gguf.array('STRING', ['<unk>', '▁the', '']),
  'test.array.int32': gguf.array('INT32', [-1, 0, 2147483647]),
  'test.array.float32': gguf.array('FLOAT32', [0.5, -0.25]),
  'test.array.uint64': gguf.array('UINT64', [0n, 2n ** 40n]),
  'test.array.bool': gguf.array('BOOL', [true, false]),
  'test.array.empty': gguf.array('UINT8', []),
  'test.array.nested': gguf.array('ARRAY', [gguf.array('STRING', ['a', 'b']), gguf.array('STRING', [])]),
};

describe(buildGguf.name, () => {
  const sut = buildGguf;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gguf-writer-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function roundTrip(description: GgufDescription) {
    const path = join(dir, `${Math.random().toString(36).slice(2)}.gguf`);
    await writeFile(path, sut(description));
    return readGguf(path, { skipArraysLongerThan: Infinity });
  }

  it('writes the GGUF v3 header', () => {
    const buffer = sut({ metadata: { 'general.name': gguf.str('x') }, tensors: [] });

    expect(buffer.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(buffer.readUInt32LE(4)).toBe(3);
    expect(buffer.readBigUInt64LE(8)).toBe(0n);
    expect(buffer.readBigUInt64LE(16)).toBe(1n);
  });

  it('round-trips metadata of every value type, in order', async () => {
    const file = await roundTrip({ metadata: ALL_TYPES });

    expect(file.version).toBe(3);
    expect([...file.metadata.keys()]).toEqual(Object.keys(ALL_TYPES));
    expect(Object.fromEntries(file.metadata)).toEqual(ALL_TYPES);
  });

  it('round-trips tensor infos and places the data at their offsets', async () => {
    const f32 = [1, -2, 0.5, 3, 4, 5];
    const raw = new Uint8Array(2 * 144).map((_, i) => i % 251);
    const description: GgufDescription = {
      metadata: { 'general.architecture': gguf.str('test') },
      tensors: [
        { name: 'a.weight', type: 'F32', dims: [3, 2], data: f32 },
        { name: 'b.weight', type: 'F16', dims: [5], data: [1, -2, 0.5, 65504, 0] },
        { name: 'c.weight', type: 'Q4_K', dims: [256, 2], raw },
      ],
    };
    const { buffer, layout } = buildGgufWithLayout(description);

    const file = await roundTrip(description);

    expect(file.dataOffset).toBe(layout.dataOffset);
    expect(file.tensors).toEqual([
      { name: 'a.weight', dims: [3, 2], elementCount: 6, type: 0, typeName: 'F32', offset: 0, byteSize: 24 },
      { name: 'b.weight', dims: [5], elementCount: 5, type: 1, typeName: 'F16', offset: 32, byteSize: 10 },
      { name: 'c.weight', dims: [256, 2], elementCount: 512, type: 12, typeName: 'Q4_K', offset: 64, byteSize: 288 },
    ]);
    expect(layout.tensorOffsets).toEqual([0, 32, 64]);
    const data = buffer.subarray(layout.dataOffset);
    expect(f32.map((_, i) => data.readFloatLE(i * 4))).toEqual(f32);
    expect([0, 1, 2, 3, 4].map((i) => data.readUInt16LE(32 + i * 2))).toEqual([0x3c00, 0xc000, 0x3800, 0x7bff, 0]);
    expect(Buffer.from(data.subarray(64, 64 + 288)).equals(raw)).toBe(true);
    expect(buffer.length % 32).toBe(0);
  });

  it('aligns tensor data to general.alignment', async () => {
    const { layout } = buildGgufWithLayout({
      metadata: { 'general.alignment': gguf.u32(128) },
      tensors: [
        { name: 'a', type: 'F32', dims: [3], data: [1, 2, 3] },
        { name: 'b', type: 'F32', dims: [1], data: [4] },
      ],
    });

    expect(layout.alignment).toBe(128);
    expect(layout.dataOffset % 128).toBe(0);
    expect(layout.tensorOffsets).toEqual([0, 128]);
    expect(layout.size).toBe(layout.dataOffset + 256);
    const file = await roundTrip({
      metadata: { 'general.alignment': gguf.u32(128) },
      tensors: [{ name: 'a', type: 'F32', dims: [3], data: [1, 2, 3] }],
    });
    expect(file.alignment).toBe(128);
    expect(file.dataOffset).toBe(layout.dataOffset);
  });

  it('writes the version it is given', async () => {
    const file = await roundTrip({ version: 2, metadata: {} });

    expect(file.version).toBe(2);
  });

  it.each([
    ['too few values', { name: 't', type: 'F32', dims: [2, 2], data: [1, 2, 3] }],
    ['raw data of the wrong size', { name: 't', type: 'Q8_0', dims: [32], raw: new Uint8Array(33) }],
  ] as const)('rejects a tensor with %s', (_, tensor) => {
    expect(() => sut({ metadata: {}, tensors: [tensor] })).toThrow(/tensor t/);
  });

  it('rejects a value of the wrong JS type', () => {
    expect(() => sut({ metadata: { k: gguf.array('STRING', [1]) } })).toThrow(/STRING value must be a string/);
  });
});

describe(float32ToFloat16Bits.name, () => {
  const sut = float32ToFloat16Bits;

  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up to infinity
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [NaN, 0x7e00],
    [6.103515625e-5, 0x0400], // smallest normal
    [5.960464477539063e-8, 0x0001], // smallest subnormal
    [2.98e-8, 0x0000], // below half the smallest subnormal
    [1 + 2 ** -11, 0x3c00], // tie rounds to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie rounds to even
  ])('encodes %d as 0x%s', (value, bits) => {
    expect(sut(value)).toBe(bits);
  });
});
