// Tiny llama-architecture GGUF models that the real llama-server loads and generates with: random
// weights from a seeded PRNG (same options → byte-identical file) and a small SPM vocabulary whose
// BYTE tokens are only printable ASCII and newline, so every generated piece is valid UTF-8.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GgufTokenType, type GgufValue } from '@llamaproxy/shared';
import { buildGguf, elementCount, gguf, type GgufDescription, type GgufTensor } from './gguf-writer.js';

export interface TinyModelOptions {
  /** PRNG seed for the weights; default 1. */
  readonly seed?: number;
  /** `general.name`; default "tiny-llama". */
  readonly name?: string;
  /** Storage of the weight matrices; norms are always F32. Default F16. */
  readonly tensorType?: 'F32' | 'F16';
  /** Default 64. Must be a multiple of `headCount`. */
  readonly embeddingLength?: number;
  /** Default 2. */
  readonly blockCount?: number;
  /** Default 4. */
  readonly headCount?: number;
  /** Default = headCount. Must divide `headCount`. */
  readonly headCountKv?: number;
  /** Default 128. */
  readonly feedForwardLength?: number;
  /** Training context length (`llama.context_length`); default 2048. */
  readonly contextLength?: number;
  /** Weights are uniform in [-scale, scale]; default 0.05. */
  readonly weightScale?: number;
}

/** Token ids of the special tokens of every tiny model. */
export const TinyModelTokens = {
  UNK: 0,
  BOS: 1,
  EOS_SPM: 2,
  IM_START: 3,
  /** `tokenizer.ggml.eos_token_id`: the end of a ChatML turn ends a chat completion. */
  IM_END: 4,
} as const;

/** ChatML, as Qwen and many fine-tunes use it. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * Two embedding dimensions steer the otherwise random model (see buildTinyModel): BIAS_DIM holds
 * the same constant for every token, STOP_DIM a constant for sentence-ending tokens only.
 */
const BIAS_DIM = 0;
const STOP_DIM = 1;
const CHANNEL_EMBEDDING = 0.25;
/** Output weight on BIAS_DIM of tokens that print nothing (and of <|im_end|> by default): ~ -12 logits. */
const SILENT_WEIGHT = -4;
/** Output weight of <|im_end|> on STOP_DIM: after ".", "!" or "?" it is the most likely token. */
const EOS_AFTER_STOP_WEIGHT = 6;
/** Output weight of ".", "!" and "?" on BIAS_DIM: a slight boost, so answers end sooner. */
const STOP_TOKEN_WEIGHT = 0.04;
const STOP_TOKENS = ['<0x2E>', '<0x21>', '<0x3F>'];

/** SPM's visible space (U+2581). */
const SPACE = '\u2581';

const COMMON_WORDS = [
  'hello',
  'there',
  'the',
  'and',
  'you',
  'what',
  'is',
  'how',
  'are',
  'world',
  'model',
  'test',
  'tell',
  'me',
  'about',
  'story',
  'a',
  'to',
  'of',
  'in',
  'it',
  'that',
  'this',
  'for',
];

/** The vocabulary: [text, token type] in id order. */
export function tinyVocabulary(): ReadonlyArray<readonly [string, number]> {
  const vocab: Array<readonly [string, number]> = [
    ['<unk>', GgufTokenType.UNKNOWN],
    ['<s>', GgufTokenType.CONTROL],
    ['</s>', GgufTokenType.CONTROL],
    ['<|im_start|>', GgufTokenType.CONTROL],
    ['<|im_end|>', GgufTokenType.CONTROL],
  ];
  // SPM falls back to <0xNN> tokens for characters it has no piece for; without one the request
  // fails (HTTP 400 "unordered_map::at"). Only printable ASCII and newline are BYTE tokens: a lone
  // byte >= 0x80 in generated text is invalid UTF-8, which llama-server answers with HTTP 500. The
  // other bytes are UNUSED tokens: prompts with any character still tokenize, and should the model
  // sample one, llama.cpp renders it as nothing.
  for (const byte of range(0x00, 0xff)) {
    const printable = byte === 0x0a || (byte >= 0x20 && byte <= 0x7e);
    vocab.push([`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`, printable ? GgufTokenType.BYTE : GgufTokenType.UNUSED]);
  }
  const seen = new Set(vocab.map(([text]) => text));
  const addNormal = (text: string): void => {
    if (!seen.has(text)) {
      seen.add(text);
      vocab.push([text, GgufTokenType.NORMAL]);
    }
  };
  // Without "▁" in the vocabulary the SPM tokenizer would need byte tokens for its UTF-8 bytes.
  addNormal(SPACE);
  const letters = range(0x61, 0x7a).map((code) => String.fromCharCode(code));
  letters.forEach(addNormal);
  letters.forEach((letter) => addNormal(SPACE + letter));
  // SPM merges pairs of known pieces, so every prefix of a word must be a token for the word to form.
  for (const word of COMMON_WORDS) {
    for (let end = 2; end <= word.length; end++) {
      addNormal(SPACE + word.slice(0, end));
    }
  }
  return vocab;
}

/** The GGUF bytes of a tiny model; deterministic for the same options. */
export function buildTinyModel(options: TinyModelOptions = {}): Buffer {
  return buildGguf(tinyModelDescription(options));
}

/** A tiny model's metadata and tensors, before encoding (to split it into shards, for instance). */
export function tinyModelDescription(options: TinyModelOptions = {}): GgufDescription {
  const seed = options.seed ?? 1;
  const tensorType = options.tensorType ?? 'F16';
  const nEmbd = options.embeddingLength ?? 64;
  const nLayer = options.blockCount ?? 2;
  const nHead = options.headCount ?? 4;
  const nHeadKv = options.headCountKv ?? nHead;
  const nFf = options.feedForwardLength ?? 128;
  const nCtx = options.contextLength ?? 2048;
  const scale = options.weightScale ?? 0.05;
  if (nEmbd % nHead !== 0 || nHead % nHeadKv !== 0) {
    throw new Error(`tiny model: embedding ${nEmbd} must divide into ${nHead} heads, and ${nHead} heads into ${nHeadKv} KV heads`);
  }
  const headDim = nEmbd / nHead;
  const vocab = tinyVocabulary();
  const nVocab = vocab.length;

  const random = mulberry32(seed);
  /** Random [ne0, ne1] weights; `row(r, data)` may then rewrite row r (elements r*ne0 .. (r+1)*ne0). */
  const weight = (name: string, dims: readonly [number, number], row?: (r: number, values: Float32Array) => void): GgufTensor => {
    const data = new Float32Array(elementCount(dims));
    for (let i = 0; i < data.length; i++) {
      data[i] = (random() * 2 - 1) * scale;
    }
    if (row !== undefined) {
      for (let r = 0; r < dims[1]; r++) {
        row(r, data.subarray(r * dims[0], (r + 1) * dims[0]));
      }
    }
    return { name, type: tensorType, dims, data };
  };
  const norm = (name: string): GgufTensor => ({ name, type: 'F32', dims: [nEmbd], data: new Float32Array(nEmbd).fill(1) });

  // Random weights give a near-uniform next-token distribution; two channels fix what matters.
  // Tokens that print nothing (UNUSED bytes, <unk>, <s>, </s>, <|im_start|>) would make answers
  // short or empty, so their logit is very low. <|im_end|> is as unlikely, except right after a
  // sentence end ("." "!" "?"), where it is the most likely token: answers end after a sentence
  // (a few dozen tokens when sampled) and are never empty, since the ChatML prompt ends in "\n".
  // Llama has no output bias, so embedding dimensions serve as one: tokens embed constants there,
  // no layer writes to them, and the output rows weigh them.
  const silent = new Set(vocab.flatMap(([, type], id) => (type === GgufTokenType.NORMAL || type === GgufTokenType.BYTE ? [] : [id])));
  const stops = new Set(vocab.flatMap(([text], id) => (STOP_TOKENS.includes(text) ? [id] : [])));
  const tensors: GgufTensor[] = [
    weight('token_embd.weight', [nEmbd, nVocab], (token, embedding) => {
      embedding[BIAS_DIM] = CHANNEL_EMBEDDING;
      embedding[STOP_DIM] = stops.has(token) ? CHANNEL_EMBEDDING : 0;
    }),
    norm('output_norm.weight'),
    weight('output.weight', [nEmbd, nVocab], (token, logitWeights) => {
      if (token === TinyModelTokens.IM_END) {
        logitWeights.fill(0);
        logitWeights[BIAS_DIM] = SILENT_WEIGHT;
        logitWeights[STOP_DIM] = EOS_AFTER_STOP_WEIGHT;
        return;
      }
      logitWeights[BIAS_DIM] = silent.has(token) ? SILENT_WEIGHT : stops.has(token) ? STOP_TOKEN_WEIGHT : 0;
      logitWeights[STOP_DIM] = 0;
    }),
  ];
  const keepChannels = (output: number, values: Float32Array): void => {
    if (output === BIAS_DIM || output === STOP_DIM) {
      values.fill(0);
    }
  };
  for (let layer = 0; layer < nLayer; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(
      norm(`${blk}.attn_norm.weight`),
      weight(`${blk}.attn_q.weight`, [nEmbd, nHead * headDim]),
      weight(`${blk}.attn_k.weight`, [nEmbd, nHeadKv * headDim]),
      weight(`${blk}.attn_v.weight`, [nEmbd, nHeadKv * headDim]),
      weight(`${blk}.attn_output.weight`, [nHead * headDim, nEmbd], keepChannels),
      norm(`${blk}.ffn_norm.weight`),
      weight(`${blk}.ffn_gate.weight`, [nEmbd, nFf]),
      weight(`${blk}.ffn_up.weight`, [nEmbd, nFf]),
      weight(`${blk}.ffn_down.weight`, [nFf, nEmbd], keepChannels),
    );
  }
  const parameterCount = tensors.reduce((sum, tensor) => sum + elementCount(tensor.dims), 0);

  const metadata: Record<string, GgufValue> = {
    'general.architecture': gguf.str('llama'),
    'general.type': gguf.str('model'),
    'general.name': gguf.str(options.name ?? 'tiny-llama'),
    'general.size_label': gguf.str(sizeLabel(parameterCount)),
    'general.file_type': gguf.u32(tensorType === 'F32' ? 0 : 1),
    'general.alignment': gguf.u32(32),
    'llama.vocab_size': gguf.u32(nVocab),
    'llama.context_length': gguf.u32(nCtx),
    'llama.embedding_length': gguf.u32(nEmbd),
    'llama.block_count': gguf.u32(nLayer),
    'llama.feed_forward_length': gguf.u32(nFf),
    'llama.rope.dimension_count': gguf.u32(headDim),
    'llama.attention.head_count': gguf.u32(nHead),
    'llama.attention.head_count_kv': gguf.u32(nHeadKv),
    'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
    'llama.rope.freq_base': gguf.f32(10000),
    'tokenizer.ggml.model': gguf.str('llama'),
    'tokenizer.ggml.tokens': gguf.array('STRING', vocab.map(([text]) => text)),
    // SPM merges the best-scoring pair first: longer pieces (later ids) score higher.
    'tokenizer.ggml.scores': gguf.array(
      'FLOAT32',
      vocab.map(([text, type], id) => (type === GgufTokenType.NORMAL ? -1000 + [...text].length * 10 - id / 1000 : 0)),
    ),
    'tokenizer.ggml.token_type': gguf.array('INT32', vocab.map(([, type]) => type)),
    'tokenizer.ggml.bos_token_id': gguf.u32(TinyModelTokens.BOS),
    'tokenizer.ggml.eos_token_id': gguf.u32(TinyModelTokens.IM_END),
    'tokenizer.ggml.unknown_token_id': gguf.u32(TinyModelTokens.UNK),
    'tokenizer.ggml.padding_token_id': gguf.u32(TinyModelTokens.EOS_SPM),
    'tokenizer.ggml.add_bos_token': gguf.bool(true),
    'tokenizer.ggml.add_eos_token': gguf.bool(false),
    'tokenizer.chat_template': gguf.str(CHATML_TEMPLATE),
  };
  return { metadata, tensors };
}

/** Writes a tiny model to `path` (creating its folder) unless an identical file is there; returns `path`. */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<string> {
  await writeFileIfChanged(path, buildTinyModel(options));
  return path;
}

export interface DemoModel {
  /** File name without `.gguf`: the model id llama-server's router gives it. */
  readonly id: string;
  readonly options: TinyModelOptions;
}

/** The demo models: `tiny-llama-a`, `tiny-llama-b`, ... alternating F16 and F32, each its own seed. */
export function demoModels(count = 3): DemoModel[] {
  return range(0, count - 1).map((index) => {
    const id = `tiny-llama-${index < 26 ? String.fromCharCode(0x61 + index) : index + 1}`;
    return { id, options: { seed: index + 1, name: id, tensorType: index % 2 === 0 ? 'F16' : 'F32' } };
  });
}

/** Writes {@link demoModels} as `<dir>/<id>.gguf` (creating `dir`); returns the paths. */
export async function writeDemoModels(dir: string, options: { count?: number } = {}): Promise<string[]> {
  const paths: string[] = [];
  for (const model of demoModels(options.count)) {
    paths.push(await writeTinyModel(join(dir, `${model.id}.gguf`), model.options));
  }
  return paths;
}

/**
 * Writes `data` to `path` through a temporary file and a rename, so a watcher never sees half a
 * model; does nothing when the file already has these bytes. Returns whether it wrote.
 */
export async function writeFileIfChanged(path: string, data: Uint8Array): Promise<boolean> {
  const existing = await readFile(path).catch(() => null);
  if (existing?.equals(data)) {
    return false;
  }
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } finally {
    await rm(temporary, { force: true });
  }
  return true;
}

/** "150K", "12M", "1.5B": the `general.size_label` style. */
function sizeLabel(parameterCount: number): string {
  const units: ReadonlyArray<readonly [number, string]> = [
    [1e9, 'B'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [unit, suffix] of units) {
    if (parameterCount >= unit) {
      return `${Number((parameterCount / unit).toPrecision(2))}${suffix}`;
    }
  }
  return String(parameterCount);
}

/** Small, fast, seedable PRNG with 32-bit state; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function range(first: number, last: number): number[] {
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
}

/** Split sets as llama.cpp's gguf-split writes them (see split.ts). */
export { splitFileNames, splitGguf } from './split.js';
