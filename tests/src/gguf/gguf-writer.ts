// A small, general GGUF v3 writer for tests: header, metadata of every value type (arrays included,
// nested too), tensor infos and aligned tensor data (F32 and F16 from floats, any type from raw bytes).
// Little-endian only. Pure: `buildGguf` returns a Buffer; `writeGguf` writes it to a file.
import { writeFile } from 'node:fs/promises';
import {
  GGML_TYPE_LAYOUT,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPE_SIZE,
  GGUF_VERSION,
  GgmlType,
  GgufValueType,
  type GgmlTypeName,
  type GgufArrayItem,
  type GgufArrayValue,
  type GgufValue,
  type GgufValueTypeName,
} from '@llamaproxy/shared';

/** A tensor given as floats, stored as F32 or F16. */
export interface GgufFloatTensor {
  readonly name: string;
  readonly type: 'F32' | 'F16';
  /** ggml order: dims[0] (ne0) is the contiguous (input) dimension. */
  readonly dims: readonly number[];
  readonly data: Float32Array | readonly number[];
}

/** A tensor given as already-encoded bytes of any ggml type (e.g. to fake a Q4_K tensor). */
export interface GgufRawTensor {
  readonly name: string;
  readonly type: GgmlTypeName;
  readonly dims: readonly number[];
  readonly raw: Uint8Array;
}

export type GgufTensor = GgufFloatTensor | GgufRawTensor;

export interface GgufDescription {
  /** Defaults to 3. Version 2 has the same layout, so any number is written as given. */
  readonly version?: number;
  /** Written in insertion order. `general.alignment` (UINT32) sets the data alignment. */
  readonly metadata: Readonly<Record<string, GgufValue>>;
  readonly tensors?: readonly GgufTensor[];
}

/** Constructors for metadata values, e.g. `{ 'llama.block_count': gguf.u32(2) }`. */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: 'UINT8', value }),
  i8: (value: number): GgufValue => ({ type: 'INT8', value }),
  u16: (value: number): GgufValue => ({ type: 'UINT16', value }),
  i16: (value: number): GgufValue => ({ type: 'INT16', value }),
  u32: (value: number): GgufValue => ({ type: 'UINT32', value }),
  i32: (value: number): GgufValue => ({ type: 'INT32', value }),
  f32: (value: number): GgufValue => ({ type: 'FLOAT32', value }),
  f64: (value: number): GgufValue => ({ type: 'FLOAT64', value }),
  u64: (value: bigint): GgufValue => ({ type: 'UINT64', value }),
  i64: (value: bigint): GgufValue => ({ type: 'INT64', value }),
  bool: (value: boolean): GgufValue => ({ type: 'BOOL', value }),
  str: (value: string): GgufValue => ({ type: 'STRING', value }),
  array: (itemType: GgufValueTypeName, items: readonly GgufArrayItem[]): GgufArrayValue => ({
    type: 'ARRAY',
    itemType,
    length: items.length,
    items,
  }),
} as const;

/** Byte offset where tensor data starts, and each tensor's offset within it; useful for tests. */
export interface GgufLayout {
  readonly alignment: number;
  readonly dataOffset: number;
  readonly tensorOffsets: readonly number[];
  readonly size: number;
}

export function buildGguf(description: GgufDescription): Buffer {
  return buildGgufWithLayout(description).buffer;
}

export async function writeGguf(path: string, description: GgufDescription): Promise<void> {
  await writeFile(path, buildGguf(description));
}

export function buildGgufWithLayout(description: GgufDescription): { buffer: Buffer; layout: GgufLayout } {
  const alignment = alignmentOf(description.metadata);
  const tensors = description.tensors ?? [];
  const encodedData = tensors.map(encodeTensorData);

  const out = new ByteSink();
  out.u32(GGUF_MAGIC);
  out.u32(description.version ?? GGUF_VERSION);
  out.u64(BigInt(tensors.length));
  const entries = Object.entries(description.metadata);
  out.u64(BigInt(entries.length));
  for (const [key, value] of entries) {
    out.string(key);
    out.u32(GgufValueType[value.type]);
    writeValue(out, value);
  }

  const tensorOffsets: number[] = [];
  let offset = 0;
  tensors.forEach((tensor, i) => {
    out.string(tensor.name);
    out.u32(tensor.dims.length);
    for (const dim of tensor.dims) {
      out.u64(BigInt(dim));
    }
    out.u32(GgmlType[tensor.type]);
    out.u64(BigInt(offset));
    tensorOffsets.push(offset);
    offset = alignUp(offset + (encodedData[i]?.length ?? 0), alignment);
  });

  out.pad(alignment);
  const dataOffset = out.length;
  for (const data of encodedData) {
    out.bytes(data);
    out.pad(alignment); // like gguf-py: every tensor, the last one too, is padded to the alignment
  }
  const buffer = out.toBuffer();
  return { buffer, layout: { alignment, dataOffset, tensorOffsets, size: buffer.length } };
}

/** Number of elements of a tensor with these ggml dims. */
export function elementCount(dims: readonly number[]): number {
  return dims.reduce((product, dim) => product * dim, 1);
}

/** IEEE 754 binary32 → binary16 bits, round to nearest even (subnormals, infinities and NaN included). */
export function float32ToFloat16Bits(value: number): number {
  f32View[0] = value;
  const bits = u32View[0] ?? 0;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) {
    return sign | 0x7c00;
  }
  if (halfExponent <= 0) {
    if (halfExponent < -10) {
      return sign;
    }
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) !== 0)) {
      half += 1;
    }
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) !== 0)) {
    half += 1; // may carry into the exponent, which is the correct rounding (up to infinity)
  }
  return sign | half;
}

const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);

function alignmentOf(metadata: Readonly<Record<string, GgufValue>>): number {
  const value = metadata['general.alignment'];
  if (value === undefined) {
    return GGUF_DEFAULT_ALIGNMENT;
  }
  if (value.type !== 'UINT32' || value.value <= 0 || (value.value & (value.value - 1)) !== 0) {
    throw new Error('general.alignment must be a UINT32 power of two');
  }
  return value.value;
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

function encodeTensorData(tensor: GgufTensor): Uint8Array {
  const count = elementCount(tensor.dims);
  if ('raw' in tensor) {
    const layout = GGML_TYPE_LAYOUT[tensor.type];
    const expected = (count / layout.blockSize) * layout.typeSize;
    if (count % layout.blockSize !== 0 || tensor.raw.length !== expected) {
      throw new Error(`tensor ${tensor.name}: ${tensor.type} data must be ${expected} bytes, got ${tensor.raw.length}`);
    }
    return tensor.raw;
  }
  if (tensor.data.length !== count) {
    throw new Error(`tensor ${tensor.name}: dims [${tensor.dims.join(', ')}] need ${count} values, got ${tensor.data.length}`);
  }
  if (tensor.type === 'F32') {
    const buffer = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) {
      buffer.writeFloatLE(tensor.data[i] ?? 0, i * 4);
    }
    return buffer;
  }
  const buffer = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) {
    buffer.writeUInt16LE(float32ToFloat16Bits(tensor.data[i] ?? 0), i * 2);
  }
  return buffer;
}

function writeValue(out: ByteSink, value: GgufValue): void {
  if (value.type === 'ARRAY') {
    writeArray(out, value);
    return;
  }
  writeItem(out, value.type, value.value);
}

function writeArray(out: ByteSink, array: GgufArrayValue): void {
  if (array.items === null || array.items.length !== array.length) {
    throw new Error(`array of ${array.itemType}: length ${array.length} does not match its items`);
  }
  out.u32(GgufValueType[array.itemType]);
  out.u64(BigInt(array.items.length));
  for (const item of array.items) {
    writeItem(out, array.itemType, item);
  }
}

function writeItem(out: ByteSink, type: GgufValueTypeName, item: GgufArrayItem): void {
  switch (type) {
    case 'ARRAY':
      if (typeof item !== 'object') {
        throw new Error('array of ARRAY needs array items');
      }
      writeArray(out, item);
      return;
    case 'STRING':
      out.string(expect(item, 'string', type));
      return;
    case 'BOOL':
      out.u8(expect(item, 'boolean', type) ? 1 : 0);
      return;
    case 'UINT64':
      out.u64(expect(item, 'bigint', type));
      return;
    case 'INT64':
      out.i64(expect(item, 'bigint', type));
      return;
    case 'UINT8':
    case 'INT8':
    case 'UINT16':
    case 'INT16':
    case 'UINT32':
    case 'INT32':
    case 'FLOAT32':
    case 'FLOAT64':
      out.number(type, expect(item, 'number', type));
      return;
  }
}

interface TypeOfMap {
  string: string;
  boolean: boolean;
  bigint: bigint;
  number: number;
}

function expect<K extends keyof TypeOfMap>(item: GgufArrayItem, kind: K, type: GgufValueTypeName): TypeOfMap[K] {
  if (typeof item !== kind) {
    throw new Error(`${type} value must be a ${kind}, got ${typeof item}`);
  }
  return item as TypeOfMap[K];
}

/** Growable little-endian byte buffer. */
class ByteSink {
  private buffer = Buffer.alloc(4096);
  private position = 0;

  get length(): number {
    return this.position;
  }

  u8(value: number): void {
    this.reserve(1).writeUInt8(value, this.advance(1));
  }

  u32(value: number): void {
    this.reserve(4).writeUInt32LE(value, this.advance(4));
  }

  u64(value: bigint): void {
    this.reserve(8).writeBigUInt64LE(value, this.advance(8));
  }

  i64(value: bigint): void {
    this.reserve(8).writeBigInt64LE(value, this.advance(8));
  }

  number(type: Exclude<keyof typeof GGUF_VALUE_TYPE_SIZE, 'BOOL' | 'UINT64' | 'INT64'>, value: number): void {
    const size = GGUF_VALUE_TYPE_SIZE[type];
    const buffer = this.reserve(size);
    const at = this.advance(size);
    switch (type) {
      case 'UINT8':
        buffer.writeUInt8(value, at);
        return;
      case 'INT8':
        buffer.writeInt8(value, at);
        return;
      case 'UINT16':
        buffer.writeUInt16LE(value, at);
        return;
      case 'INT16':
        buffer.writeInt16LE(value, at);
        return;
      case 'UINT32':
        buffer.writeUInt32LE(value, at);
        return;
      case 'INT32':
        buffer.writeInt32LE(value, at);
        return;
      case 'FLOAT32':
        buffer.writeFloatLE(value, at);
        return;
      case 'FLOAT64':
        buffer.writeDoubleLE(value, at);
        return;
    }
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(BigInt(bytes.length));
    this.bytes(bytes);
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length).set(data, this.advance(data.length));
  }

  pad(alignment: number): void {
    const padding = alignUp(this.position, alignment) - this.position;
    this.reserve(padding).fill(0, this.position, this.position + padding);
    this.position += padding;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.position));
  }

  /** Makes room for `size` more bytes and returns the (possibly new) backing buffer. */
  private reserve(size: number): Buffer {
    if (this.position + size > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.position + size));
      this.buffer.copy(grown, 0, 0, this.position);
      this.buffer = grown;
    }
    return this.buffer;
  }

  private advance(size: number): number {
    const at = this.position;
    this.position += size;
    return at;
  }
}
