import type { DeviceBytes, FootprintSettings, PresetValues } from '@llamaproxy/shared';
import { metadataNumber, metadataString, type GgufFile } from '../../gguf/gguf-reader.js';

/**
 * What the estimator needs of a model, read from its GGUF header(s). Bytes and counts.
 */
export interface ModelShape {
  /** `<arch>.block_count`. */
  layerCount: number;
  /** `<arch>.context_length` (the training context; used when the context setting is 0). */
  contextLength: number;
  embeddingLength: number;
  feedForwardLength: number;
  /** Rows of `token_embd.weight` (the vocabulary size). */
  vocabSize: number;
  /** KV heads (`attention.head_count_kv`, else `attention.head_count`; the largest for per-layer arrays). */
  headCountKv: number;
  headCount: number;
  /** Per KV head: `attention.key_length` / `attention.value_length`, else embedding / heads. */
  keyLength: number;
  valueLength: number;
  /** Tensor bytes of each repeating block `blk.<i>.*`, by i. */
  layerBytes: number[];
  /** `output.weight` and `output_norm.*`: offloaded with the last GPU layer. */
  outputBytes: number;
  /** Everything else (`token_embd.weight`, ...): always in host memory. */
  hostBytes: number;
}

/** Resident memory of a llama-server model instance without its model (code, libraries, HTTP threads): about 10 MiB measured. */
export const PROCESS_OVERHEAD_BYTES = 10 * 1024 * 1024;
/** What a CUDA context and cuBLAS workspace take per process on a GPU, before any tensor. */
export const GPU_CONTEXT_BYTES = 256 * 1024 * 1024;
/** llama.cpp's default micro-batch (`--ubatch-size`): the compute buffers scale with it. */
const UBATCH = 512;
/** The KV cache is allocated in multiples of this many cells. */
const KV_PAD = 256;

/** Bytes per element of the KV cache types llama-server accepts (`--cache-type-k/v`). */
export const KV_CACHE_TYPE_BYTES: Readonly<Record<string, number>> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  q8_0: 34 / 32,
  q4_0: 18 / 32,
  q4_1: 20 / 32,
  iq4_nl: 18 / 32,
  q5_0: 22 / 32,
  q5_1: 24 / 32,
};

/** Reads a model's shape from its parsed GGUF file(s): the main file first, then any further shards. */
export function modelShape(files: readonly GgufFile[]): ModelShape {
  const main = files[0];
  if (main === undefined) {
    throw new Error('no GGUF file');
  }
  const arch = metadataString(main.metadata, 'general.architecture') ?? 'llama';
  const num = (key: string): number | null => metadataNumber(main.metadata, `${arch}.${key}`);
  const layerCount = num('block_count') ?? 0;
  const embeddingLength = num('embedding_length') ?? 0;
  const headCount = num('attention.head_count') ?? 1;
  const headCountKv = num('attention.head_count_kv') ?? headCount;
  const headDim = headCount > 0 ? Math.floor(embeddingLength / headCount) : 0;
  const layerBytes = new Array<number>(layerCount).fill(0);
  let outputBytes = 0;
  let hostBytes = 0;
  let vocabSize = 0;
  for (const file of files) {
    for (const tensor of file.tensors ?? []) {
      const bytes = tensor.byteSize ?? 0;
      const block = /^blk\.(\d+)\./.exec(tensor.name);
      const index = block === null ? -1 : Number(block[1]);
      if (index >= 0 && index < layerCount) {
        layerBytes[index] = (layerBytes[index] ?? 0) + bytes;
      } else if (tensor.name.startsWith('output')) {
        outputBytes += bytes;
      } else {
        hostBytes += bytes;
      }
      if (tensor.name === 'token_embd.weight') {
        vocabSize = tensor.dims[1] ?? 0;
      }
    }
  }
  return {
    layerCount,
    contextLength: num('context_length') ?? 4096,
    embeddingLength,
    feedForwardLength: num('feed_forward_length') ?? 4 * embeddingLength,
    vocabSize,
    headCount,
    headCountKv,
    keyLength: num('attention.key_length') ?? headDim,
    valueLength: num('attention.value_length') ?? headDim,
    layerBytes,
    outputBytes,
    hostBytes,
  };
}

/** KV cache bytes of `layers` layers for a context of `ctx` cells in total (all slots). */
export function kvCacheBytes(shape: ModelShape, settings: FootprintSettings, layers: number): number {
  const ctx = contextCells(shape, settings);
  const k = KV_CACHE_TYPE_BYTES[settings.cacheTypeK.toLowerCase()] ?? 2;
  const v = KV_CACHE_TYPE_BYTES[settings.cacheTypeV.toLowerCase()] ?? 2;
  return layers * ctx * shape.headCountKv * (shape.keyLength * k + shape.valueLength * v);
}

/**
 * The compute-buffer allowance: activations of one micro-batch through the widest layer and the
 * logits of its outputs (f32), and the attention scores of one micro-batch over the context of a
 * slot, per head. A rough upper bound of what llama.cpp's scheduler reserves.
 */
export function computeBufferBytes(shape: ModelShape, settings: FootprintSettings): number {
  const activations = 4 * UBATCH * (2 * shape.embeddingLength + shape.feedForwardLength + shape.vocabSize);
  const perSlot = Math.ceil(contextCells(shape, settings) / Math.max(1, settings.parallel));
  // llama.cpp computes attention in chunks; a sixteenth of the full score matrix is what it keeps.
  const scores = Math.min(4 * UBATCH * perSlot * shape.headCount, 1024 * 1024 * 1024) / 16;
  return Math.round(activations + scores);
}

/**
 * A model instance's footprint per device before its first load: weights (the repeating blocks
 * offloaded to the GPU by `--n-gpu-layers`, the last ones first, as llama.cpp does; the output
 * layer with the last one), the KV cache of each device's layers, a compute-buffer allowance on
 * the device that computes, and the process itself (plus a CUDA context on the GPU). Without a
 * GPU everything is `cpu`. Several GPUs: this estimate puts the offloaded share on the first
 * (llama.cpp splits by free memory; the measurement after the load is the truth).
 */
export function estimateFootprint(shape: ModelShape, settings: FootprintSettings, gpuIds: readonly string[]): DeviceBytes {
  const gpu = gpuIds[0];
  const requested = settings.gpuLayers === 'auto' || settings.gpuLayers === 'all' ? shape.layerCount + 1 : settings.gpuLayers;
  const offloaded = gpu === undefined ? 0 : Math.min(requested, shape.layerCount + 1);
  const gpuBlocks = Math.min(offloaded, shape.layerCount);
  const hostBlocks = shape.layerCount - gpuBlocks;
  const blockBytes = (from: number, to: number): number => shape.layerBytes.slice(from, to).reduce((a, b) => a + b, 0);
  const outputOnGpu = offloaded > shape.layerCount;
  const compute = computeBufferBytes(shape, settings);
  const cpu =
    PROCESS_OVERHEAD_BYTES +
    shape.hostBytes +
    blockBytes(0, hostBlocks) +
    (outputOnGpu ? 0 : shape.outputBytes) +
    kvCacheBytes(shape, settings, hostBlocks) +
    (gpuBlocks > 0 ? Math.round(compute / 4) : compute);
  const bytes: DeviceBytes = { cpu: Math.round(cpu) };
  if (gpu !== undefined && offloaded > 0) {
    bytes[gpu] = Math.round(GPU_CONTEXT_BYTES + blockBytes(hostBlocks, shape.layerCount) + (outputOnGpu ? shape.outputBytes : 0) + kvCacheBytes(shape, settings, gpuBlocks) + compute);
  }
  return bytes;
}

function contextCells(shape: ModelShape, settings: FootprintSettings): number {
  const ctx = settings.ctxSize > 0 ? settings.ctxSize : shape.contextLength;
  return Math.ceil(ctx / KV_PAD) * KV_PAD;
}

const FLAG_KEYS: Readonly<Record<string, keyof FootprintSettings>> = {
  '-c': 'ctxSize',
  '--ctx-size': 'ctxSize',
  '-np': 'parallel',
  '--parallel': 'parallel',
  '-ctk': 'cacheTypeK',
  '--cache-type-k': 'cacheTypeK',
  '-ctv': 'cacheTypeV',
  '--cache-type-v': 'cacheTypeV',
  '-ngl': 'gpuLayers',
  '--gpu-layers': 'gpuLayers',
  '--n-gpu-layers': 'gpuLayers',
};

/**
 * The footprint settings an instance starts with: `base`, then each argument list in order (later
 * wins, as on llama-server's command line), then preset values (keys without dashes, as in the INI).
 */
export function footprintSettingsFrom(base: FootprintSettings, argLists: ReadonlyArray<readonly string[]>, presets: ReadonlyArray<PresetValues | undefined> = []): FootprintSettings {
  const out: FootprintSettings = { ...base };
  const set = (key: keyof FootprintSettings, value: string): void => {
    switch (key) {
      case 'ctxSize':
      case 'parallel': {
        const n = Number(value);
        if (Number.isInteger(n) && n >= (key === 'parallel' ? 1 : 0)) {
          out[key] = n;
        }
        break;
      }
      case 'cacheTypeK':
      case 'cacheTypeV':
        out[key] = value.toLowerCase();
        break;
      case 'gpuLayers':
        out.gpuLayers = value === 'auto' || value === 'all' ? value : Number.isInteger(Number(value)) && Number(value) >= 0 ? Number(value) : out.gpuLayers;
        break;
    }
  };
  for (const args of argLists) {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] ?? '';
      const eq = arg.indexOf('=');
      const flag = eq > 0 ? arg.slice(0, eq) : arg;
      const key = FLAG_KEYS[flag];
      if (key === undefined) {
        continue;
      }
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value !== undefined) {
        set(key, value);
      }
    }
  }
  for (const values of presets) {
    for (const [name, value] of Object.entries(values ?? {})) {
      const key = FLAG_KEYS[name.length <= 3 ? `-${name}` : `--${name}`];
      if (key !== undefined) {
        set(key, value);
      }
    }
  }
  return out;
}
