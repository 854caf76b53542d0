import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { CatalogueEntrySchema, type CatalogueEntry } from '@llamaproxy/shared';

/** One cached catalogue entry: valid while the model's files, sizes and mtimes give `signature`. */
export interface CachedEntry {
  signature: string;
  entry: CatalogueEntry;
}

const CACHE_VERSION = 1;
const CacheFileSchema = z.object({
  version: z.literal(CACHE_VERSION),
  modelsDir: z.string(),
  entries: z.array(z.object({ signature: z.string(), entry: CatalogueEntrySchema })),
});

/**
 * The catalogue's header-read cache across restarts (`catalogue-cache.json` in the supervisor's
 * data directory): a restart over thousands of files then only stats them. Written atomically
 * (a temporary file, then rename), so a crash leaves the old file or the new one. A file that is
 * missing, unreadable, of another version or for another models directory reads as empty.
 */
export class CatalogueCacheFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  /** The cached entries by model id; empty when there is no usable file. */
  async read(modelsDir: string): Promise<Map<string, CachedEntry>> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(this.path, 'utf8')) as unknown;
    } catch {
      return new Map();
    }
    const parsed = CacheFileSchema.safeParse(raw);
    if (!parsed.success || parsed.data.modelsDir !== modelsDir) {
      return new Map();
    }
    return new Map(parsed.data.entries.map((e) => [e.entry.id, e]));
  }

  /** Replaces the file with `entries`. Rejects when it cannot be written (the cache is then only in memory). */
  async write(modelsDir: string, entries: Iterable<CachedEntry>): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const parts: string[] = [];
    for (const e of entries) {
      parts.push(JSON.stringify(e));
    }
    await writeFile(tmp, `{"version":${CACHE_VERSION},"modelsDir":${JSON.stringify(modelsDir)},"entries":[\n${parts.join(',\n')}\n]}\n`, 'utf8');
    await rename(tmp, this.path);
  }
}
