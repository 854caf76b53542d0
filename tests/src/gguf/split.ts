// Splits a GGUF description into shards the way llama.cpp's `llama-gguf-split --split` writes them
// (tools/gguf-split/gguf-split.cpp): every shard carries `split.no` (0-based, UINT16), `split.count`
// (UINT16) and `split.tensors.count` (INT32); the first shard also carries all the model's metadata;
// the tensors are divided in order. llama_model_loader loads the others by `llama_split_path`.
import { buildGguf, gguf, type GgufDescription } from './gguf-writer.js';

/** The shard file names llama.cpp gives `<prefix>` split in `count`: `<prefix>-00001-of-0000N.gguf`. */
export function splitFileNames(prefix: string, count: number): string[] {
  const of = String(count).padStart(5, '0');
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(5, '0')}-of-${of}.gguf`);
}

/** The bytes of each of `count` shards of `description` (at least one tensor per shard). */
export function splitGguf(description: GgufDescription, count: number): Buffer[] {
  const tensors = description.tensors ?? [];
  if (count < 2 || count > tensors.length) {
    throw new Error(`cannot split ${tensors.length} tensors into ${count} shards`);
  }
  const per = Math.ceil(tensors.length / count);
  return Array.from({ length: count }, (_, i) => {
    const split = {
      'split.no': gguf.u16(i),
      'split.count': gguf.u16(count),
      'split.tensors.count': gguf.i32(tensors.length),
    };
    const metadata = i === 0 ? { ...description.metadata, ...split } : split;
    return buildGguf({ metadata, tensors: tensors.slice(i * per, Math.min(tensors.length, (i + 1) * per)) });
  });
}
