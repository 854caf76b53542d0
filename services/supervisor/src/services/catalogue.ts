import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Catalogue, CatalogueEntry, ModelLayout } from '@llamaproxy/shared';
import { GgufError, readModelInfo } from '../gguf/gguf-reader.js';

interface FoundModel {
  id: string;
  main: string;
  files: string[];
  mmproj: string | null;
  layout: ModelLayout;
}

const isGguf = (name: string): boolean => name.endsWith('.gguf');
const isMmproj = (name: string): boolean => name.includes('mmproj');
const isDraft = (name: string): boolean => /^(mtp|dspark|dflash)-/.test(name);
const isFirstShard = (name: string): boolean => name.includes('-00001-of-');
const isShard = (name: string): boolean => /-\d{5}-of-\d{5}\.gguf$/.test(name);

/**
 * Finds models the way llama-server's router does (common/preset.cpp, load_from_models_dir):
 * `*.gguf` files at the top level are single-file models (mmproj and draft files are companions);
 * each subfolder is one model named after the folder: its first shard or its model file, with an
 * optional `mmproj*` file.
 */
export async function findModels(modelsDir: string): Promise<FoundModel[]> {
  const found: FoundModel[] = [];
  const entries = await readdir(modelsDir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(modelsDir, entry.name);
    if (entry.isDirectory()) {
      const files = (await readdir(path, { withFileTypes: true }))
        .filter((f) => f.isFile() && isGguf(f.name))
        .map((f) => f.name)
        .sort();
      const mmproj = files.find(isMmproj) ?? null;
      const models = files.filter((f) => !isMmproj(f) && !isDraft(f));
      const firstShard = models.find(isFirstShard);
      const main = firstShard ?? models.at(-1);
      if (main === undefined) {
        continue;
      }
      found.push({
        id: entry.name,
        main: join(path, main),
        files: files.map((f) => join(path, f)),
        mmproj: mmproj === null ? null : join(path, mmproj),
        layout: firstShard !== undefined ? 'multi-shard' : mmproj !== null ? 'multimodal' : 'single',
      });
    } else if (entry.isFile() && isGguf(entry.name) && !isMmproj(entry.name) && !isDraft(entry.name)) {
      found.push({ id: entry.name.replace(/\.gguf/g, ''), main: path, files: [path], mmproj: null, layout: 'single' });
    }
  }
  return found;
}

interface CachedInfo {
  signature: string;
  entry: CatalogueEntry;
}

/**
 * The catalogue of the models directory: every model with its GGUF metadata, or the reason it
 * is not usable. Header reads are cached by (size, mtime), so a rescan of an unchanged
 * directory only stats files.
 */
export class CatalogueScanner {
  private readonly modelsDir: string;
  private readonly nodeId: string;
  private readonly cache = new Map<string, CachedInfo>();

  constructor(nodeId: string, modelsDir: string) {
    this.nodeId = nodeId;
    this.modelsDir = modelsDir;
  }

  async scan(): Promise<Catalogue> {
    const found = await findModels(this.modelsDir);
    const entries: CatalogueEntry[] = [];
    for (const model of found) {
      entries.push(await this.describe(model));
    }
    const ids = new Set(found.map((m) => m.id));
    for (const id of this.cache.keys()) {
      if (!ids.has(id)) {
        this.cache.delete(id);
      }
    }
    return { nodeId: this.nodeId, modelsDir: this.modelsDir, scannedAt: Date.now(), entries };
  }

  private async describe(model: FoundModel): Promise<CatalogueEntry> {
    const stats = await Promise.all(model.files.map(async (f) => stat(f)));
    const sizeBytes = stats.reduce((sum, s) => sum + s.size, 0);
    const modifiedAt = Math.max(...stats.map((s) => s.mtimeMs));
    const signature = `${model.main}|${model.files.length}|${sizeBytes}|${modifiedAt}`;
    const cached = this.cache.get(model.id);
    if (cached?.signature === signature) {
      return cached.entry;
    }
    const base = {
      id: model.id,
      path: relative(this.modelsDir, model.main),
      layout: model.layout,
      files: model.files.map((f) => relative(this.modelsDir, f)),
      mmproj: model.mmproj === null ? null : relative(this.modelsDir, model.mmproj),
      sizeBytes,
      modifiedAt: Math.round(modifiedAt),
    };
    let entry: CatalogueEntry;
    try {
      const info = await readModelInfo(model.main);
      let parameterCount = info.parameterCount;
      if (model.layout === 'multi-shard') {
        const shards = model.files.filter((f) => f !== model.main && isShard(f) && !isMmproj(f));
        for (const shard of shards) {
          parameterCount += (await readModelInfo(shard)).parameterCount;
        }
      }
      entry = {
        ...base,
        valid: true,
        invalidReason: null,
        architecture: info.architecture,
        name: info.name,
        quantization: info.quantization,
        parameterCount,
        contextLength: info.contextLength,
      };
    } catch (err) {
      const reason = err instanceof GgufError ? err.message : `cannot read ${base.path}: ${(err as Error).message}`;
      entry = { ...base, valid: false, invalidReason: reason, architecture: null, name: null, quantization: null, parameterCount: null, contextLength: null };
    }
    this.cache.set(model.id, { signature, entry });
    return entry;
  }
}

/** A change signature of a catalogue, to detect when the directory changed. */
export function catalogueSignature(catalogue: Catalogue): string {
  return catalogue.entries.map((e) => `${e.id}|${e.sizeBytes}|${e.modifiedAt}|${e.valid}`).join('\n');
}
