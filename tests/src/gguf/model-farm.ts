// A models directory of thousands of entries for scale tests and benchmarks, without thousands of
// files' worth of disk: every entry is a hard link of one of two source files.
// - "loadable" entries link one tiny model that the real llama-server loads;
// - "header" entries link one metadata-only GGUF (no tensors) with a realistic large vocabulary
//   (Qwen2-like: 151,936 tokens with scores and types, a BPE merges list), which is what makes a
//   catalogue scan slow when the reader decodes every array.
import { link, mkdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { buildGguf, gguf } from './gguf-writer.js';
import { writeFileIfChanged, writeTinyModel, type TinyModelOptions } from './tiny-model.js';

/** Qwen2's vocabulary size (`tokenizer.ggml.tokens` length of Qwen2/2.5 GGUFs). */
export const LARGE_VOCABULARY_SIZE = 151_936;

export interface ModelFarmOptions {
  /** Entries in all. */
  readonly count: number;
  /** How many of them are metadata-only large-vocabulary headers (the rest are loadable); default 0. */
  readonly headers?: number;
  /** Vocabulary of the header entries; default LARGE_VOCABULARY_SIZE. */
  readonly vocabularySize?: number;
  /** Options of the loadable tiny model. */
  readonly model?: TinyModelOptions;
  /** Model id prefix; default "farm". Ids are `<prefix>-00001` ... in file-name order. */
  readonly prefix?: string;
}

export interface ModelFarm {
  /** Every entry's model id (file name without `.gguf`), sorted. */
  readonly ids: string[];
  /** Ids of the entries llama-server can load. */
  readonly loadable: string[];
  /** Ids of the metadata-only header entries (a load fails: no tensors). */
  readonly headers: string[];
  /** Size in bytes of one header entry's file. */
  readonly headerBytes: number;
}

/**
 * Fills `dir` (created if missing; entries with the farm's names are replaced) with `count`
 * `.gguf` hard links. The two source files live beside `dir`, in `.<name of dir>-farm-src/` (a
 * folder inside the models directory would be read as one more model by llama.cpp's router; a hard
 * link needs the same file system). Cost: two small writes and `count` links.
 */
export async function writeModelFarm(dir: string, options: ModelFarmOptions): Promise<ModelFarm> {
  const prefix = options.prefix ?? 'farm';
  const headerCount = Math.min(options.headers ?? 0, options.count);
  const src = join(dirname(dir), `.${basename(dir)}-farm-src`);
  await mkdir(src, { recursive: true });
  await mkdir(dir, { recursive: true });
  const modelPath = await writeTinyModel(join(src, 'model.gguf'), options.model ?? { name: prefix });
  const headerPath = join(src, 'header.gguf');
  await writeFileIfChanged(headerPath, buildLargeVocabularyHeader(options.vocabularySize ?? LARGE_VOCABULARY_SIZE));
  const ids: string[] = [];
  const loadable: string[] = [];
  const headers: string[] = [];
  const width = Math.max(5, String(options.count).length);
  for (let index = 1; index <= options.count; index += 1) {
    const id = `${prefix}-${String(index).padStart(width, '0')}`;
    // Headers are spread through the list (every n-th entry), as a real collection mixes them.
    const isHeader = headerCount > 0 && index % Math.ceil(options.count / headerCount) === 0 && headers.length < headerCount;
    const target = join(dir, `${id}.gguf`);
    await rm(target, { force: true });
    await link(isHeader ? headerPath : modelPath, target);
    ids.push(id);
    (isHeader ? headers : loadable).push(id);
  }
  return { ids, loadable, headers, headerBytes: (await stat(headerPath)).size };
}

/**
 * A GGUF with a Qwen2-like header and no tensors: architecture keys, a `vocabularySize`-token
 * vocabulary (tokens, token types) and a merges list of half that many entries.
 */
export function buildLargeVocabularyHeader(vocabularySize = LARGE_VOCABULARY_SIZE): Buffer {
  const tokens = Array.from({ length: vocabularySize }, (_, i) => `tok${i.toString(36)}`);
  const merges = Array.from({ length: Math.floor(vocabularySize / 2) }, (_, i) => `t${i.toString(36)} o${i.toString(36)}`);
  return buildGguf({
    metadata: {
      'general.architecture': gguf.str('qwen2'),
      'general.name': gguf.str('large-vocabulary header'),
      'general.file_type': gguf.u32(15),
      'qwen2.block_count': gguf.u32(28),
      'qwen2.context_length': gguf.u32(32_768),
      'qwen2.embedding_length': gguf.u32(3584),
      'qwen2.feed_forward_length': gguf.u32(18_944),
      'qwen2.attention.head_count': gguf.u32(28),
      'qwen2.attention.head_count_kv': gguf.u32(4),
      'tokenizer.ggml.model': gguf.str('gpt2'),
      'tokenizer.ggml.pre': gguf.str('qwen2'),
      'tokenizer.ggml.tokens': gguf.array('STRING', tokens),
      'tokenizer.ggml.token_type': gguf.array('INT32', tokens.map(() => 1)),
      'tokenizer.ggml.merges': gguf.array('STRING', merges),
      'tokenizer.ggml.eos_token_id': gguf.u32(151_645),
    },
  });
}
