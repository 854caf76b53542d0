import { lstat, realpath, rm } from 'node:fs/promises';
import { dirname, relative, resolve, sep } from 'node:path';
import { AppError, ErrorCode, ModelStatusValue, type Catalogue, type ModelState } from '@llamaproxy/shared';

export interface ModelDeleteDeps {
  modelsDir: string;
  catalogue: () => Catalogue | null;
  state: (modelId: string) => ModelState | undefined;
  /** Removes a file or a folder (recursively); replaced in tests. */
  remove?: (path: string) => Promise<void>;
}

/** Statuses in which a model's files are in use. */
const IN_USE = new Set<string>([ModelStatusValue.loaded, ModelStatusValue.loading, ModelStatusValue.sleeping]);

/**
 * What deleting `modelId` removes, relative to the models directory: its folder when the model is
 * a folder of the models directory (split set, multimodal), else its one file. Refuses with
 * MODEL_NOT_FOUND (not in the catalogue), MODEL_LOADED (loaded, loading or sleeping: unload it
 * first) and PATH_OUTSIDE_MODELS_DIR (the path, links resolved, is not strictly inside the models
 * directory, or is the models directory itself).
 */
export async function deleteModelFiles(deps: ModelDeleteDeps, modelId: string): Promise<string> {
  const entry = deps.catalogue()?.entries.find((e) => e.id === modelId);
  if (entry === undefined) {
    throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${modelId}" in the models directory`);
  }
  const status = deps.state(modelId)?.status;
  if (status !== undefined && IN_USE.has(status)) {
    throw new AppError(ErrorCode.MODEL_LOADED, `${modelId} is ${status}: unload it first`);
  }
  const root = await realpath(resolve(deps.modelsDir));
  const folder = entry.path.includes('/') ? entry.path.slice(0, entry.path.indexOf('/')) : null;
  const rel = folder ?? entry.path;
  // The entry itself (a link is removed, not what it points to); its parent must be the real models directory.
  const path = resolve(root, rel);
  const parent = await realpath(dirname(path));
  const r = relative(root, path);
  if (parent !== root || r === '' || r.startsWith('..') || r.includes(sep)) {
    throw new AppError(ErrorCode.PATH_OUTSIDE_MODELS_DIR, `"${rel}" is not inside the models directory`);
  }
  await lstat(path).catch(() => {
    throw new AppError(ErrorCode.MODEL_NOT_FOUND, `"${rel}" is gone already`);
  });
  await (deps.remove ?? ((p) => rm(p, { recursive: true, force: true })))(path);
  return rel;
}
