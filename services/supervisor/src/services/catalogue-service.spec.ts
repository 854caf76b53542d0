import type { Catalogue, CatalogueEntry } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { CatalogueService } from './catalogue-service.js';
import { ManualClock, quietLogger, settle } from './test-support/fakes.js';

const SCAN_MS = 30_000;

function entry(id: string, patch: Partial<CatalogueEntry> = {}): CatalogueEntry {
  return {
    id,
    path: `${id}.gguf`,
    layout: 'single',
    files: [`${id}.gguf`],
    mmproj: null,
    sizeBytes: 1_000,
    modifiedAt: 1,
    valid: true,
    invalidReason: null,
    architecture: 'llama',
    name: id,
    quantization: 'F16',
    parameterCount: 1,
    contextLength: 512,
    ...patch,
  };
}

/** A catalogue service over a scanner that returns whatever `dir.entries` holds at the time. */
function subject() {
  const clock = new ManualClock();
  const dir = { entries: [entry('tiny'), entry('broken', { valid: false, invalidReason: 'truncated file' })], fails: false };
  const scanner = {
    scans: 0,
    scan: async (): Promise<Catalogue> => {
      scanner.scans++;
      if (dir.fails) {
        throw new Error('EACCES');
      }
      return { nodeId: 'node-a', modelsDir: '/models', scannedAt: clock.now(), entries: dir.entries };
    },
  };
  const invalid: Map<string, string>[] = [];
  const known: string[][] = [];
  const reloads: number[] = [];
  const sut = new CatalogueService(
    { scanIntervalMs: SCAN_MS },
    {
      scanner,
      models: { setInvalid: (m) => invalid.push(new Map(m)) },
      output: { knowModels: (_source, ids) => known.push([...ids]) },
      router: { reload: async () => void reloads.push(clock.now()) },
      clock,
      logger: quietLogger(),
    },
  );
  const published: Catalogue[] = [];
  sut.on('catalogue', (c) => published.push(c));
  return { sut, clock, dir, scanner, invalid, known, reloads, published };
}

describe(CatalogueService.name, () => {
  it('publishes the first scan, marks unusable files invalid and has the router reread its list', async () => {
    const { sut, invalid, known, reloads, published } = subject();
    const catalogue = await sut.rescan();
    expect(published).toEqual([catalogue]);
    expect(invalid).toEqual([new Map([['broken', 'truncated file']])]);
    expect(known).toEqual([['tiny', 'broken']]);
    expect(reloads).toHaveLength(1);
    expect(sut.current).toBe(catalogue);
    expect([...(sut.modelIds ?? [])]).toEqual(['tiny', 'broken']);
    expect(sut.has('tiny')).toBe(true);
    expect(sut.has('other')).toBe(false);
  });

  it('publishes once per change: an unchanged rescan publishes nothing and asks nothing of the router', async () => {
    const { sut, dir, invalid, reloads, published } = subject();
    await sut.rescan();
    await sut.rescan();
    await sut.rescan();
    expect(published).toHaveLength(1);
    expect(reloads).toHaveLength(1);
    expect(invalid).toHaveLength(1);

    dir.entries = [entry('tiny', { modifiedAt: 2 }), ...dir.entries.slice(1)];
    await sut.rescan();
    await sut.rescan();
    expect(published).toHaveLength(2);
    expect(reloads).toHaveLength(2);
  });

  it.each([
    ['a new file', (e: CatalogueEntry[]) => [...e, entry('new')]],
    ['a removed file', (e: CatalogueEntry[]) => e.slice(0, 1)],
    ['a file that grew', (e: CatalogueEntry[]) => [entry('tiny', { sizeBytes: 2_000 }), ...e.slice(1)]],
    ['a file that was fixed', (e: CatalogueEntry[]) => [e[0]!, entry('broken')]],
  ])('counts %s as a change', async (_what, change) => {
    const { sut, dir, published } = subject();
    await sut.rescan();
    dir.entries = change(dir.entries);
    await sut.rescan();
    expect(published).toHaveLength(2);
  });

  it('scans at start and then on a timer until closed, and survives a failed scan', async () => {
    const { sut, clock, dir, scanner, published } = subject();
    await sut.watch();
    expect(scanner.scans).toBe(1);
    await clock.advance(SCAN_MS * 2);
    expect(scanner.scans).toBe(3);
    dir.fails = true;
    await clock.advance(SCAN_MS);
    dir.fails = false;
    dir.entries = [entry('tiny')];
    await clock.advance(SCAN_MS);
    await settle();
    expect(scanner.scans).toBe(5);
    expect(published).toHaveLength(2);
    sut.close();
    await clock.advance(SCAN_MS * 3);
    expect(scanner.scans).toBe(5);
  });
});
