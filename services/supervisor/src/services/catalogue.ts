import { opendir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Catalogue, CatalogueEntry, ModelLayout } from '@llamaproxy/shared';
import { GgufError, readModelInfo, type GgufModelInfo } from '../gguf/gguf-reader.js';
import type { CachedEntry } from '../repositories/catalogue-cache-file.js';

/**
 * The models directory exactly as llama-server's router reads it (common/preset.cpp,
 * `load_from_models_dir`, over common/common.cpp `fs_list`):
 * - entries in directory order (`std::filesystem::directory_iterator` is `readdir` order, which
 *   `opendir` here follows too), symlinks followed (`is_regular_file`/`is_directory` follow them),
 *   entries that cannot be stat'ed (a dangling link) skipped;
 * - a top-level `*.gguf` file is a model named after the file with every ".gguf" removed, unless its
 *   name contains "mmproj" or starts with "mtp-", "dspark-" or "dflash-" (companions);
 * - a folder is one model named after the folder: its last file containing "-00001-of-", else its
 *   last other `*.gguf` file, with the last `mmproj` file as projector and the first drafter file;
 * - a later model of the same name replaces an earlier one.
 * Names are case-sensitive, as in llama.cpp.
 */

/** llama.cpp's draft prefixes (common/preset.cpp `draft_prefixes`). */
const DRAFT_PREFIXES = ['mtp-', 'dspark-', 'dflash-'] as const;
/** GGUF architectures that are not a model on their own (src/llama-arch.cpp). */
const COMPANION_ARCHITECTURES: Readonly<Record<string, string>> = { clip: 'projector', eagle3: 'drafter', dflash: 'drafter' };

const isGguf = (name: string): boolean => name.endsWith('.gguf');
const isMmproj = (name: string): boolean => name.includes('mmproj');
const isDraft = (name: string): boolean => DRAFT_PREFIXES.some((p) => name.startsWith(p));
/** llama.cpp's split naming (`llama_split_path`): `<prefix>-00001-of-00003.gguf`. */
const SPLIT = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

interface Listed {
  name: string;
  path: string;
  isDir: boolean;
}

export interface SkippedEntry {
  /** Relative to the models directory. */
  path: string;
  reason: string;
}

export interface FoundModel {
  id: string;
  /** The file the router passes as `--model`. */
  main: string;
  mmproj: string | null;
  draft: string | null;
  layout: ModelLayout;
}

/** `fs_list`: regular files (and folders), links followed, in directory order. */
async function list(dir: string, withDirs: boolean, skipped: SkippedEntry[], root: string): Promise<Listed[]> {
  const out: Listed[] = [];
  let handle;
  try {
    handle = await opendir(dir);
  } catch {
    return out;
  }
  for await (const entry of handle) {
    const path = join(dir, entry.name);
    try {
      const st = await stat(path);
      if (st.isFile()) {
        out.push({ name: entry.name, path, isDir: false });
      } else if (withDirs && st.isDirectory()) {
        out.push({ name: entry.name, path, isDir: true });
      }
    } catch (err) {
      if (entry.isSymbolicLink()) {
        skipped.push({ path: relative(root, path), reason: `link to nothing (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}); llama-server skips it too` });
      }
    }
  }
  return out;
}

/** Finds models the way the router does; `skipped` collects what neither can read. */
export async function findModels(modelsDir: string, skipped: SkippedEntry[] = []): Promise<FoundModel[]> {
  const found = new Map<string, FoundModel>();
  for (const entry of await list(modelsDir, true, skipped, modelsDir)) {
    if (entry.isDir) {
      let model: string | null = null;
      let firstShard: string | null = null;
      let mmproj: string | null = null;
      let draft: string | null = null;
      for (const file of await list(entry.path, false, skipped, modelsDir)) {
        if (!isGguf(file.name)) {
          continue;
        }
        if (isMmproj(file.name)) {
          mmproj = file.path;
        } else if (isDraft(file.name)) {
          draft ??= file.path; // first sidecar found wins
        } else if (file.name.includes('-00001-of-')) {
          firstShard = file.path;
        } else {
          model = file.path;
        }
      }
      const main = firstShard ?? model;
      if (main !== null) {
        const layout = SPLIT.test(main.slice(entry.path.length + 1)) ? 'multi-shard' : mmproj !== null ? 'multimodal' : 'single';
        found.set(entry.name, { id: entry.name, main, mmproj, draft, layout });
      }
    } else if (isGguf(entry.name) && !isMmproj(entry.name) && !isDraft(entry.name)) {
      const id = entry.name.replaceAll('.gguf', '');
      found.set(id, { id, main: entry.path, mmproj: null, draft: null, layout: SPLIT.test(entry.name) ? 'multi-shard' : 'single' });
    }
  }
  return [...found.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The shards of the split set `main` belongs to, as llama_model_loader looks for them. */
async function splitSet(main: string): Promise<{ index: number; count: number; shards: { no: number; path: string; exists: boolean }[] } | null> {
  const dir = main.slice(0, main.lastIndexOf('/'));
  const m = SPLIT.exec(main.slice(dir.length + 1));
  if (m === null) {
    return null;
  }
  const [, prefix = '', no = '1', of = '1'] = m;
  const count = Number(of);
  const shards = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const path = join(dir, `${prefix}-${String(i + 1).padStart(5, '0')}-of-${of}.gguf`);
      const exists = await stat(path).then((s) => s.isFile(), () => false);
      return { no: i + 1, path, exists };
    }),
  );
  return { index: Number(no), count, shards };
}

/** Where the scanner keeps its header-read cache across restarts (implemented by `CatalogueCacheFile`). */
export interface CatalogueCacheStore {
  read(modelsDir: string): Promise<Map<string, CachedEntry>>;
  write(modelsDir: string, entries: Iterable<CachedEntry>): Promise<void>;
}

export interface CatalogueScannerOptions {
  /** Header cache across restarts; without one the cache lives in memory only. */
  cache?: CatalogueCacheStore;
  /** Files read at the same time; default 4. */
  concurrency?: number;
  /** Entries read now (not from the cache) go to `onEntries` in groups of this many, or every `progressMs`; default 500 / 2000 ms. */
  progressBatch?: number;
  progressMs?: number;
}

/**
 * The catalogue of the models directory: every model the router lists, with the same id and the
 * same main file, its GGUF metadata summed over a split set, or the reason it cannot load. Header
 * reads are cached by (files, sizes, mtimes), in memory and in the cache file across restarts, so
 * a rescan of an unchanged directory only stats files. Files are read `concurrency` at a time.
 */
export class CatalogueScanner {
  private readonly modelsDir: string;
  private readonly nodeId: string;
  private readonly options: Required<Omit<CatalogueScannerOptions, 'cache'>>;
  private readonly store: CatalogueCacheStore | null;
  private cache: Map<string, CachedEntry> | null = null;

  constructor(nodeId: string, modelsDir: string, options: CatalogueScannerOptions = {}) {
    this.nodeId = nodeId;
    this.modelsDir = modelsDir;
    this.store = options.cache ?? null;
    this.options = { concurrency: options.concurrency ?? 4, progressBatch: options.progressBatch ?? 500, progressMs: options.progressMs ?? 2000 };
  }

  /**
   * Scans the directory. `onEntries`, when given, receives the entries whose headers are read now
   * (in groups, in no particular order) before the complete catalogue is returned.
   */
  async scan(onEntries?: (entries: CatalogueEntry[]) => void): Promise<Catalogue> {
    const cache = (this.cache ??= this.store === null ? new Map<string, CachedEntry>() : await this.store.read(this.modelsDir).catch(() => new Map<string, CachedEntry>()));
    const skipped: SkippedEntry[] = [];
    const found = await findModels(this.modelsDir, skipped);
    const entries: CatalogueEntry[] = new Array<CatalogueEntry>(found.length);
    let changed = false;
    let batch: CatalogueEntry[] = [];
    let batchAt = Date.now();
    const hand = (force: boolean): void => {
      if (onEntries !== undefined && batch.length > 0 && (force || batch.length >= this.options.progressBatch || Date.now() - batchAt >= this.options.progressMs)) {
        onEntries(batch);
        batch = [];
        batchAt = Date.now();
      }
    };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < found.length) {
        const index = next++;
        const model = found[index] as FoundModel;
        const { entry, fresh } = await this.describe(model, cache);
        changed ||= fresh;
        entries[index] = entry;
        if (fresh) {
          // Only what was read now: cached entries come with the complete catalogue, a moment later.
          batch.push(entry);
          hand(false);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(this.options.concurrency, found.length)) }, worker));
    hand(true);
    const ids = new Set(found.map((m) => m.id));
    for (const id of cache.keys()) {
      if (!ids.has(id)) {
        cache.delete(id);
        changed = true;
      }
    }
    if (changed && this.store !== null) {
      // A cache that cannot be written only costs the next start its header reads.
      await this.store.write(this.modelsDir, cache.values()).catch(() => undefined);
    }
    return { nodeId: this.nodeId, modelsDir: this.modelsDir, scannedAt: Date.now(), entries, skipped };
  }

  private rel(path: string): string {
    return relative(this.modelsDir, path);
  }

  /** The entry of `model`, from the cache when its files are unchanged (`fresh`: read now). */
  private async describe(model: FoundModel, cache: Map<string, CachedEntry>): Promise<{ entry: CatalogueEntry; fresh: boolean }> {
    const split = await splitSet(model.main);
    // A first shard stands for its whole set (sizes and parameters summed); any other shard for itself.
    const modelFiles = split?.index === 1 ? split.shards.filter((s) => s.exists).map((s) => s.path) : [model.main];
    const companions = [model.mmproj, model.draft].filter((f): f is string => f !== null);
    const stats = await Promise.all([...modelFiles, ...companions].map(async (f) => stat(f)));
    const sizeBytes = stats.reduce((sum, s) => sum + s.size, 0);
    const modifiedAt = Math.max(0, ...stats.map((s) => s.mtimeMs));
    const signature = `${model.main}|${modelFiles.join('|')}|${companions.join('|')}|${sizeBytes}|${modifiedAt}`;
    const cached = cache.get(model.id);
    if (cached?.signature === signature) {
      return { entry: cached.entry, fresh: false };
    }
    const base = {
      id: model.id,
      path: this.rel(model.main),
      layout: model.layout,
      files: [...modelFiles, ...companions].map((f) => this.rel(f)).sort(),
      mmproj: model.mmproj === null ? null : this.rel(model.mmproj),
      draft: model.draft === null ? null : this.rel(model.draft),
      ...(split === null ? {} : { split: { count: split.count, present: split.shards.filter((s) => s.exists).map((s) => s.no) } }),
      sizeBytes,
      modifiedAt: Math.round(modifiedAt),
    };
    const unknown = { architecture: null, name: null, quantization: null, parameterCount: null, contextLength: null };
    let entry: CatalogueEntry;
    try {
      const info = await readModelInfo(model.main);
      let parameterCount = info.parameterCount;
      for (const shard of modelFiles.filter((f) => f !== model.main)) {
        parameterCount += (await readModelInfo(shard)).parameterCount;
      }
      const reason = this.cannotLoad(model, split, info);
      entry = {
        ...base,
        valid: reason === null,
        invalidReason: reason,
        architecture: info.architecture,
        name: info.name,
        quantization: info.quantization,
        parameterCount,
        contextLength: info.contextLength,
      };
    } catch (err) {
      const reason = err instanceof GgufError ? err.message : `cannot read ${base.path}: ${(err as Error).message}`;
      entry = { ...base, valid: false, invalidReason: reason, ...unknown };
    }
    cache.set(model.id, { signature, entry });
    return { entry, fresh: true };
  }

  /** Why llama-server cannot load the model although it lists it, or null. */
  private cannotLoad(model: FoundModel, split: Awaited<ReturnType<typeof splitSet>>, info: GgufModelInfo): string | null {
    const kind = info.architecture === null ? undefined : COMPANION_ARCHITECTURES[info.architecture];
    if (kind !== undefined) {
      return `${this.rel(model.main)} is a ${kind} (architecture ${info.architecture}), not a model; llama-server would load it as one. Name it ${kind === 'projector' ? '"mmproj-…"' : '"dflash-…" or "mtp-…"'} so the router treats it as a companion`;
    }
    if (split !== null) {
      const first = split.shards[0]?.path ?? model.main;
      if (split.index !== 1) {
        return `shard ${split.index} of ${split.count}: llama-server loads a split model from its first shard, ${this.rel(first)}`;
      }
      const missing = split.shards.filter((s) => !s.exists).map((s) => s.no);
      if (missing.length > 0) {
        return `${missing.map((n) => `shard ${n}`).join(', ')} of ${split.count} missing (${missing.map((n) => this.rel(split.shards[n - 1]?.path ?? '')).join(', ')})`;
      }
    }
    return null;
  }
}

/** A change signature of a catalogue, to detect when the directory changed. */
export function catalogueSignature(catalogue: Catalogue): string {
  return catalogue.entries.map((e) => `${e.id}|${e.path}|${e.sizeBytes}|${e.modifiedAt}|${e.valid}`).join('\n');
}
