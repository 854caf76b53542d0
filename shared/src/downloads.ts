import { z } from 'zod';
import { AppError, ErrorCode, type ErrorInfo } from './errors.js';
import type { MetricsSample } from './metrics.js';

/**
 * Model downloads from the Hugging Face Hub (or a mirror at HF_ENDPOINT): what the Hub answers,
 * how a repository's files group into rows the router will see as models, and the downloads
 * queue's payload, progress and result. The supervisor does the file work (it owns the models
 * directory); the gateway searches, lists and queues.
 */

/** A repository id as the Hub writes it: `owner/name` (letters, digits, `-`, `_`, `.`). */
export const HfRepoIdSchema = z
  .string()
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'expected a Hugging Face repository id "owner/name"')
  .refine((s) => !s.includes('..'), 'expected a Hugging Face repository id "owner/name"');

/** A file path inside a repository, as the Hub's tree lists it. */
export const HfFilePathSchema = z.string().min(1).max(1000);

/** One row of the Hub's `GET /api/models` search. */
export const HfModelSummarySchema = z.object({
  id: z.string(),
  downloads: z.number().int().nonnegative(),
  likes: z.number().int().nonnegative(),
  /** ISO 8601, or null when the Hub did not say. */
  lastModified: z.string().nullable(),
  /** The Hub says `false`, `"auto"` or `"manual"`: any access request makes it gated. */
  gated: z.boolean(),
  private: z.boolean(),
});
export type HfModelSummary = z.infer<typeof HfModelSummarySchema>;

/** A file of a repository's tree: its size in bytes and, for LFS files, the SHA-256 (hex) of its content. */
export const HfRepoFileSchema = z.object({
  path: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  /** The LFS object id (`lfs.oid`), which the Hub defines as the SHA-256 of the file; null for non-LFS files. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
});
export type HfRepoFile = z.infer<typeof HfRepoFileSchema>;

export const HfFileGroupKind = { model: 'model', mmproj: 'mmproj' } as const;
export type HfFileGroupKind = (typeof HfFileGroupKind)[keyof typeof HfFileGroupKind];

/**
 * One row of a repository as the router will see it: a model (one file, or a split set
 * `<prefix>-00001-of-0000N.gguf` ... in shard order) or a projector (`mmproj`) file.
 */
export interface HfFileGroup {
  /** Stable within the repository: the file path, or the split set's prefix. */
  key: string;
  kind: HfFileGroupKind;
  /** `Q4_K_M`, `IQ3_XXS`, `F16`, ... read from the file name; null when the name does not say. */
  quantization: string | null;
  /** The model id it gets when downloaded without a chosen name (file or prefix name, no `.gguf`). */
  suggestedName: string;
  files: HfRepoFile[];
  sizeBytes: number;
  /** Whether a split set has every shard in the repository (false: it cannot be downloaded). */
  complete: boolean;
  /** Whether it fits the node's memory (see fitsNodeMemory); null when the gateway has no figures. */
  fits: boolean | null;
}

/** llama.cpp's split naming (`llama_split_path`): `<prefix>-00001-of-00003.gguf`. */
const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;
/** Quantization names of llama.cpp's `llama-quantize` (and the float types), as they appear in file names. */
const QUANT = /(?:^|[-_.])((?:UD-)?(?:IQ\d_[A-Z]+(?:_[A-Z0-9]+)?|Q\d_K(?:_[A-Z0-9]+)?|Q\d_\d|Q\d_[A-Z]+|TQ\d_\d|MXFP4(?:_MOE)?|BF16|F16|F32))(?=$|[-_.])/i;

/** The quantization a GGUF file name declares (`model-Q4_K_M.gguf` → `Q4_K_M`), or null. */
export function quantizationOf(path: string): string | null {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.gguf$/, '').replace(/-\d{5}-of-\d{5}$/, '');
  const m = QUANT.exec(base);
  return m?.[1]?.toUpperCase() ?? null;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Groups a repository's files into rows (non-GGUF files are left out): each split set is one row
 * with its shards in order, every other `*.gguf` is a row of its own; files whose name contains
 * `mmproj` are projector rows. Rows are sorted models first, by size.
 */
export function groupRepoFiles(files: readonly HfRepoFile[]): HfFileGroup[] {
  const groups: HfFileGroup[] = [];
  const splits = new Map<string, { count: number; shards: Map<number, HfRepoFile> }>();
  for (const file of files) {
    const name = baseName(file.path);
    if (!name.endsWith('.gguf')) {
      continue;
    }
    const kind = name.includes('mmproj') ? HfFileGroupKind.mmproj : HfFileGroupKind.model;
    const split = SPLIT.exec(file.path);
    if (split !== null && kind === HfFileGroupKind.model) {
      const [, prefix = '', no = '1', of = '1'] = split;
      const key = `${prefix}-of-${of}`;
      const set = splits.get(key) ?? { count: Number(of), shards: new Map<number, HfRepoFile>() };
      set.shards.set(Number(no), file);
      splits.set(key, set);
      continue;
    }
    groups.push({
      key: file.path,
      kind,
      quantization: quantizationOf(file.path),
      suggestedName: name.replaceAll('.gguf', ''),
      files: [file],
      sizeBytes: file.sizeBytes,
      complete: true,
      fits: null,
    });
  }
  for (const [key, set] of splits) {
    const shards = [...set.shards.entries()].sort((a, b) => a[0] - b[0]).map(([, f]) => f);
    const prefix = key.replace(/-of-\d{5}$/, '');
    groups.push({
      key: prefix,
      kind: HfFileGroupKind.model,
      quantization: quantizationOf(prefix),
      suggestedName: baseName(prefix),
      files: shards,
      sizeBytes: shards.reduce((sum, f) => sum + f.sizeBytes, 0),
      complete: shards.length === set.count && shards.every((_, i) => set.shards.has(i + 1)),
      fits: null,
    });
  }
  return groups.sort((a, b) => (a.kind === b.kind ? a.sizeBytes - b.sizeBytes || (a.key < b.key ? -1 : 1) : a.kind === HfFileGroupKind.model ? -1 : 1));
}

/** Room kept beside a model's weights (KV cache, compute buffers) when judging whether it fits: 20 % + 512 MiB. */
export const FIT_MARGIN = { ratio: 1.2, bytes: 512 * 1024 * 1024 } as const;

/**
 * Whether a model of `sizeBytes` (file size) fits the node's memory: its size with FIT_MARGIN
 * against the larger of the GPUs' total memory and the host's RAM, from the latest metrics sample;
 * null without one. A deliberately simple rule behind one function, so a GGUF-based footprint
 * estimate can replace it.
 */
export function fitsNodeMemory(sizeBytes: number, sample: MetricsSample | null): boolean | null {
  if (sample === null) {
    return null;
  }
  const vram = sample.gpus.reduce((sum, g) => sum + (g.memoryTotalBytes ?? 0), 0);
  const capacity = Math.max(vram, sample.memory.totalBytes);
  if (capacity <= 0) {
    return null;
  }
  return sizeBytes * FIT_MARGIN.ratio + FIT_MARGIN.bytes <= capacity;
}

/**
 * A model name the download may create in the models directory: one path segment of letters,
 * digits, `.`, `_`, `-` (llama.cpp's model ids), not hidden. Anything else (a `/`, `..`) could
 * leave the models directory and is refused with PATH_OUTSIDE_MODELS_DIR.
 */
export function checkDownloadName(name: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/.test(name) || name.includes('..')) {
    throw new AppError(ErrorCode.PATH_OUTSIDE_MODELS_DIR, `"${name.slice(0, 200)}" is not a plain model name (letters, digits, ".", "_", "-"): it would not stay inside the models directory`);
  }
  return name;
}

/** The downloads queue of a supervisor node (BullMQ names cannot contain ':'). */
export function downloadQueueName(nodeId: string): string {
  return `downloads-${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** BullMQ job name of a download. */
export const DOWNLOAD_JOB = 'model.download';

/** What a download job carries: the repository, the files of one row (and a projector), the model name. */
export const DownloadPayloadSchema = z
  .object({
    repo: HfRepoIdSchema,
    /** Git revision (branch, tag or commit); `main` by default. */
    revision: z.string().regex(/^[A-Za-z0-9._/-]{1,100}$/).refine((s) => !s.includes('..')).default('main'),
    /** Paths inside the repository: a model's file or every shard of a split set, optionally one `mmproj` file. */
    files: z.array(HfFilePathSchema).min(1).max(256),
    /** The model id to create; defaults to the row's suggested name. Checked with checkDownloadName. */
    name: z.string().min(1).max(200),
  })
  .strict();
export type DownloadPayload = z.infer<typeof DownloadPayloadSchema>;

export const DownloadStage = {
  queued: 'queued',
  checking: 'checking',
  downloading: 'downloading',
  verifying: 'verifying',
  installing: 'installing',
} as const;
export type DownloadStage = (typeof DownloadStage)[keyof typeof DownloadStage];

/** Reported through `job.updateProgress` while a download runs. */
export const DownloadProgressSchema = z.object({
  stage: z.enum(DownloadStage),
  /** Bytes on disk of every file of the download (a resumed file counts what it kept). */
  bytesDone: z.number().int().nonnegative(),
  bytesTotal: z.number().int().nonnegative(),
  /** Average over the last few seconds; 0 when idle. */
  bytesPerSec: z.number().nonnegative(),
  /** Seconds left at that speed; null when unknown. */
  etaSec: z.number().nonnegative().nullable(),
  /** The file being fetched now (path in the repository). */
  file: z.string().nullable(),
});
export type DownloadProgress = z.infer<typeof DownloadProgressSchema>;

export const DownloadResultSchema = z.object({
  modelId: z.string(),
  /** Where it was written, relative to the models directory (a file, or the model's folder). */
  path: z.string(),
  bytes: z.number().int().nonnegative(),
  /** Bytes that a partial file from an earlier attempt already held (0 for a fresh download). */
  resumedBytes: z.number().int().nonnegative(),
});
export type DownloadResult = z.infer<typeof DownloadResultSchema>;

export const DownloadState = { queued: 'queued', active: 'active', completed: 'completed', failed: 'failed', cancelled: 'cancelled' } as const;
export type DownloadState = (typeof DownloadState)[keyof typeof DownloadState];

/** A download as the dashboard shows it. */
export interface DownloadView {
  /** The BullMQ job id. */
  id: string;
  nodeId: string;
  repo: string;
  files: string[];
  name: string;
  state: DownloadState;
  progress: DownloadProgress | null;
  result: DownloadResult | null;
  error: ErrorInfo | null;
  createdAt: number;
  finishedAt: number | null;
}

/** Downloads running at once per node (DOWNLOAD_CONCURRENCY), by default. */
export const DOWNLOAD_CONCURRENCY_DEFAULT = 2;
/** Finished downloads the queue keeps for the dashboard's list. */
export const DOWNLOAD_RETENTION = { completed: { count: 50, age: 7 * 24 * 3600 }, failed: { count: 50, age: 7 * 24 * 3600 } } as const;
/** Redis key that asks the worker running a download to stop (set by the gateway, read by the worker). */
export const downloadCancelKey = (jobId: string): string => `llamaproxy:downloads:cancel:${jobId}`;
