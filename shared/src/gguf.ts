// GGUF format constants shared by the GGUF reader (supervisor) and the GGUF writer (tests).
// Tables and types only. Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md

/** The first four bytes of every GGUF file ("GGUF"), read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;

/** Versions this project reads; v1 (uint32 counts) is long gone, v2 and v3 share one layout. */
export const GGUF_SUPPORTED_VERSIONS = [2, 3] as const;
export const GGUF_VERSION = 3;

/** Tensor data alignment unless `general.alignment` says otherwise. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Type codes of metadata values (`gguf_type`). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
export type GgufValueTypeName = keyof typeof GgufValueType;
export type GgufValueTypeCode = (typeof GgufValueType)[GgufValueTypeName];

/** Value type code → name (index = code). */
export const GGUF_VALUE_TYPE_NAMES = [
  'UINT8',
  'INT8',
  'UINT16',
  'INT16',
  'UINT32',
  'INT32',
  'FLOAT32',
  'BOOL',
  'STRING',
  'ARRAY',
  'UINT64',
  'INT64',
  'FLOAT64',
] as const satisfies readonly GgufValueTypeName[];

/** Encoded size in bytes of the fixed-size value types (STRING and ARRAY are variable). */
export const GGUF_VALUE_TYPE_SIZE = {
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  UINT32: 4,
  INT32: 4,
  FLOAT32: 4,
  BOOL: 1,
  UINT64: 8,
  INT64: 8,
  FLOAT64: 8,
} as const satisfies Record<Exclude<GgufValueTypeName, 'STRING' | 'ARRAY'>, number>;

export type GgufNumberTypeName = 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'UINT32' | 'INT32' | 'FLOAT32' | 'FLOAT64';
export type GgufBigIntTypeName = 'UINT64' | 'INT64';

/** One metadata value as the writer takes it and the reader returns it. */
export type GgufScalarValue =
  | { readonly type: GgufNumberTypeName; readonly value: number }
  | { readonly type: GgufBigIntTypeName; readonly value: bigint }
  | { readonly type: 'BOOL'; readonly value: boolean }
  | { readonly type: 'STRING'; readonly value: string };

/** An array item: a plain JS value of the array's item type, or a nested array. */
export type GgufArrayItem = number | bigint | boolean | string | GgufArrayValue;

/**
 * A metadata array. `items` is null when a reader skipped it (too long to be worth
 * materializing, e.g. the 150k-entry `tokenizer.ggml.tokens`); `length` is always known.
 */
export interface GgufArrayValue {
  readonly type: 'ARRAY';
  readonly itemType: GgufValueTypeName;
  readonly length: number;
  readonly items: readonly GgufArrayItem[] | null;
}

export type GgufValue = GgufScalarValue | GgufArrayValue;

/** ggml tensor type codes (`ggml_type`); gaps are removed types. */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  MXFP4: 39,
} as const;
export type GgmlTypeName = keyof typeof GgmlType;
export type GgmlTypeCode = (typeof GgmlType)[GgmlTypeName];

/** Storage of each ggml type: `typeSize` bytes per block of `blockSize` elements (ggml's type_traits). */
export const GGML_TYPE_LAYOUT = {
  F32: { blockSize: 1, typeSize: 4 },
  F16: { blockSize: 1, typeSize: 2 },
  Q4_0: { blockSize: 32, typeSize: 18 },
  Q4_1: { blockSize: 32, typeSize: 20 },
  Q5_0: { blockSize: 32, typeSize: 22 },
  Q5_1: { blockSize: 32, typeSize: 24 },
  Q8_0: { blockSize: 32, typeSize: 34 },
  Q8_1: { blockSize: 32, typeSize: 36 },
  Q2_K: { blockSize: 256, typeSize: 84 },
  Q3_K: { blockSize: 256, typeSize: 110 },
  Q4_K: { blockSize: 256, typeSize: 144 },
  Q5_K: { blockSize: 256, typeSize: 176 },
  Q6_K: { blockSize: 256, typeSize: 210 },
  Q8_K: { blockSize: 256, typeSize: 292 },
  IQ2_XXS: { blockSize: 256, typeSize: 66 },
  IQ2_XS: { blockSize: 256, typeSize: 74 },
  IQ3_XXS: { blockSize: 256, typeSize: 98 },
  IQ1_S: { blockSize: 256, typeSize: 50 },
  IQ4_NL: { blockSize: 32, typeSize: 18 },
  IQ3_S: { blockSize: 256, typeSize: 110 },
  IQ2_S: { blockSize: 256, typeSize: 82 },
  IQ4_XS: { blockSize: 256, typeSize: 136 },
  I8: { blockSize: 1, typeSize: 1 },
  I16: { blockSize: 1, typeSize: 2 },
  I32: { blockSize: 1, typeSize: 4 },
  I64: { blockSize: 1, typeSize: 8 },
  F64: { blockSize: 1, typeSize: 8 },
  IQ1_M: { blockSize: 256, typeSize: 56 },
  BF16: { blockSize: 1, typeSize: 2 },
  TQ1_0: { blockSize: 256, typeSize: 54 },
  TQ2_0: { blockSize: 256, typeSize: 66 },
  MXFP4: { blockSize: 32, typeSize: 17 },
} as const satisfies Record<GgmlTypeName, { blockSize: number; typeSize: number }>;

/** ggml type code → name, for the codes in {@link GgmlType}. */
export function ggmlTypeName(code: number): GgmlTypeName | null {
  return GGML_TYPE_NAME_BY_CODE.get(code) ?? null;
}
const GGML_TYPE_NAME_BY_CODE: ReadonlyMap<number, GgmlTypeName> = new Map(
  (Object.keys(GgmlType) as GgmlTypeName[]).map((name) => [GgmlType[name], name]),
);

/**
 * `general.file_type` (llama.cpp's `llama_ftype`, "mostly <type>") → the quantization name users
 * know from file names. Gaps are removed file types.
 */
export const GGUF_FILE_TYPE_NAMES = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  19: 'IQ2_XXS',
  20: 'IQ2_XS',
  21: 'Q2_K_S',
  22: 'IQ3_XS',
  23: 'IQ3_XXS',
  24: 'IQ1_S',
  25: 'IQ4_NL',
  26: 'IQ3_S',
  27: 'IQ3_M',
  28: 'IQ2_S',
  29: 'IQ2_M',
  30: 'IQ4_XS',
  31: 'IQ1_M',
  32: 'BF16',
  36: 'TQ1_0',
  37: 'TQ2_0',
  38: 'MXFP4',
} as const;
export type GgufFileTypeCode = keyof typeof GGUF_FILE_TYPE_NAMES;
export type GgufQuantizationName = (typeof GGUF_FILE_TYPE_NAMES)[GgufFileTypeCode];

/** `general.file_type` → quantization name, or null for an unknown code. */
export function ggufFileTypeName(fileType: number): GgufQuantizationName | null {
  return Object.hasOwn(GGUF_FILE_TYPE_NAMES, fileType) ? GGUF_FILE_TYPE_NAMES[fileType as GgufFileTypeCode] : null;
}

/** `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`). */
export const GgufTokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type GgufTokenTypeCode = (typeof GgufTokenType)[keyof typeof GgufTokenType];
