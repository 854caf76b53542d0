import { AppError, checkDownloadName, ErrorCode, groupRepoFiles, HfFileGroupKind, type DownloadPayload, type HfRepoFile } from '@llamaproxy/shared';

/** One file to fetch and where it goes, relative to the models directory. */
export interface PlannedFile {
  /** Path in the repository. */
  repoPath: string;
  sizeBytes: number;
  /** SHA-256 the content must have (the LFS object id); null: only the size is checked. */
  sha256: string | null;
  /** File name inside the install target (the folder) or the target file name itself. */
  fileName: string;
}

/**
 * A download laid out the way llama.cpp's router reads the models directory (common/preset.cpp
 * `load_from_models_dir`): one model file becomes `<name>.gguf` at the top; a split set, or a model
 * with its projector, becomes the folder `<name>/` holding the files under their own names (the
 * router picks the first shard `-00001-of-` and the `mmproj` file there).
 */
export interface DownloadPlan {
  modelId: string;
  layout: 'file' | 'folder';
  /** Relative to the models directory: `<name>.gguf` or `<name>`. */
  target: string;
  files: PlannedFile[];
  totalBytes: number;
}

/**
 * Checks a download request against the repository's tree and lays it out. Refuses with
 * HF_NO_GGUF (the repository has no GGUF file), HF_NOT_FOUND (a requested file is not in the
 * tree), VALIDATION_FAILED (not one model plus at most one projector, or an incomplete split set)
 * and PATH_OUTSIDE_MODELS_DIR (a name or file name that would leave the models directory).
 */
export function planDownload(payload: DownloadPayload, tree: readonly HfRepoFile[]): DownloadPlan {
  const modelId = checkDownloadName(payload.name);
  if (!tree.some((f) => f.path.endsWith('.gguf'))) {
    throw new AppError(ErrorCode.HF_NO_GGUF, `${payload.repo} has no GGUF file`);
  }
  const byPath = new Map(tree.map((f) => [f.path, f]));
  const wanted: HfRepoFile[] = [];
  for (const path of new Set(payload.files)) {
    const file = byPath.get(path);
    if (file === undefined) {
      throw new AppError(ErrorCode.HF_NOT_FOUND, `${payload.repo} has no file "${path.slice(0, 300)}"`);
    }
    if (!path.endsWith('.gguf')) {
      throw new AppError(ErrorCode.HF_NO_GGUF, `"${path.slice(0, 300)}" is not a GGUF file`);
    }
    wanted.push(file);
  }
  const groups = groupRepoFiles(wanted);
  const models = groups.filter((g) => g.kind === HfFileGroupKind.model);
  const projectors = groups.filter((g) => g.kind === HfFileGroupKind.mmproj);
  if (models.length !== 1 || projectors.length > 1) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, `a download is one model (one file or one split set) and at most one mmproj file; got ${models.length} model(s) and ${projectors.length} projector(s)`);
  }
  const model = models[0]!;
  if (!model.complete) {
    throw new AppError(ErrorCode.VALIDATION_FAILED, `the split set ${model.key} is incomplete: ask for every shard`);
  }
  const folder = model.files.length > 1 || projectors.length > 0;
  const files = [...model.files, ...(projectors[0]?.files ?? [])].map((f) => {
    const fileName = f.path.slice(f.path.lastIndexOf('/') + 1);
    // A file name from the Hub is one path segment; anything else is refused, not cleaned up.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.gguf$/.test(fileName) || fileName.includes('..')) {
      throw new AppError(ErrorCode.PATH_OUTSIDE_MODELS_DIR, `"${f.path.slice(0, 300)}" is not a plain file name`);
    }
    return { repoPath: f.path, sizeBytes: f.sizeBytes, sha256: f.sha256, fileName: folder ? fileName : `${modelId}.gguf` };
  });
  return {
    modelId,
    layout: folder ? 'folder' : 'file',
    target: folder ? modelId : `${modelId}.gguf`,
    files,
    totalBytes: files.reduce((sum, f) => sum + f.sizeBytes, 0),
  };
}
