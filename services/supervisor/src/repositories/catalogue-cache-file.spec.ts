import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTinyModel } from '@llamaproxy/tests/gguf';
import { CatalogueScanner } from '../services/catalogue.js';
import { CatalogueCacheFile } from './catalogue-cache-file.js';

/** The header cache across restarts: a second scanner (a restarted supervisor) over the same file. */
describe(CatalogueCacheFile.name, () => {
  let dir: string;
  let modelsDir: string;
  let cachePath: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-catalogue-cache-'));
    modelsDir = join(dir, 'models');
    cachePath = join(dir, 'data', 'catalogue-cache.json');
    mkdirModels();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function mkdirModels(): void {
    mkdirSync(modelsDir, { recursive: true });
    writeFileSync(join(modelsDir, 'alpha.gguf'), buildTinyModel({ name: 'alpha', seed: 1 }));
    writeFileSync(join(modelsDir, 'beta.gguf'), buildTinyModel({ name: 'beta', seed: 2 }));
  }

  const scanner = (): CatalogueScanner => new CatalogueScanner('node-a', modelsDir, { cache: new CatalogueCacheFile(cachePath), concurrency: 2 });

  it('serves an unchanged file from the cache after a restart, and reads a changed one again', async () => {
    const alpha = join(modelsDir, 'alpha.gguf');
    const then = new Date('2026-01-01T00:00:00Z');
    utimesSync(alpha, then, then); // whole seconds: utimes keeps them exactly
    const first = await scanner().scan();
    expect(first.entries.map((e) => [e.id, e.name])).toEqual([
      ['alpha', 'alpha'],
      ['beta', 'beta'],
    ]);
    expect(readdirSync(join(dir, 'data'))).toEqual(['catalogue-cache.json']); // no temporary file left

    // Same size and mtime, other content: a restarted scanner must not read it (it is cached) ...
    writeFileSync(alpha, buildTinyModel({ name: 'gamma', seed: 1 }));
    utimesSync(alpha, then, then);
    const restarted = await scanner().scan();
    expect(restarted.entries).toEqual(first.entries);

    // ... and a new mtime makes it read the file again.
    utimesSync(alpha, then, new Date(then.getTime() + 5000));
    const changed = await scanner().scan();
    expect(changed.entries.find((e) => e.id === 'alpha')?.name).toBe('gamma');
    expect(changed.entries.find((e) => e.id === 'beta')).toEqual(first.entries.find((e) => e.id === 'beta'));
  });

  it('reads a corrupt or foreign cache file as empty, and replaces it', async () => {
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(cachePath, '{"version":1,"modelsDir":');
    const scanned = await scanner().scan();
    expect(scanned.entries.map((e) => e.id)).toEqual(['alpha', 'beta']);
    const written = JSON.parse(readFileSync(cachePath, 'utf8')) as { modelsDir: string; entries: unknown[] };
    expect(written.modelsDir).toBe(modelsDir);
    expect(written.entries).toHaveLength(2);

    const other = await new CatalogueCacheFile(cachePath).read('/somewhere/else');
    expect(other.size).toBe(0);
  });

  it('hands entries out as they are read, before the complete catalogue', async () => {
    const seen: string[] = [];
    const catalogue = await new CatalogueScanner('node-a', modelsDir, { progressBatch: 1 }).scan((entries) => seen.push(...entries.map((e) => e.id)));
    expect(seen.sort()).toEqual(['alpha', 'beta']);
    expect(catalogue.entries.map((e) => e.id)).toEqual(['alpha', 'beta']);
  });
});
