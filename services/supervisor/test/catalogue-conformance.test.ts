import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalogue } from '@llamaproxy/shared';
import { buildTinyModel } from '@llamaproxy/tests/gguf';
import { listRouterModels, startLlamaRouter, type LlamaRouter, type RouterModel } from '@llamaproxy/tests/harness';
import { CatalogueScanner } from '../src/services/catalogue.js';

/**
 * Conformance with the real router: over a models directory with every layout the router knows,
 * the catalogue lists exactly the router's `/models` ids, and names as each model's file the one
 * the router passes as `--model` (rendered into `status.args` for every model at start-up).
 */
describe('catalogue conformance with llama-server', () => {
  let root: string;
  let dir: string;
  let router: LlamaRouter;
  let catalogue: Catalogue;
  let routerModels: RouterModel[];
  const model = buildTinyModel({ seed: 3 });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'llamaproxy-conformance-'));
    dir = join(root, 'models');
    const outside = join(root, 'outside');
    mkdirSync(dir);
    mkdirSync(join(outside, 'linked-folder-target'), { recursive: true });
    const file = (path: string, data: Uint8Array = model): void => {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), data);
    };
    file('single-Q4_K_M.gguf');
    file('folder-model/folder-model-Q8_0.gguf');
    file('vision/vision-F16.gguf');
    file('vision/mmproj-vision-F16.gguf');
    file('drafted/drafted-Q4_K_M.gguf');
    file('drafted/mtp-drafted-Q4_K_M.gguf');
    file('drafted/dflash-drafted.gguf');
    // A drafter llama.cpp does not recognise by name: the router takes whichever file comes last in
    // directory order, and the catalogue must name the same one.
    for (let i = 0; i < 6; i++) {
      file(`ambiguous-${i}/ambiguous-Q4_K_M.gguf`);
      file(`ambiguous-${i}/Ambiguous-DFlash-${i}-Q4_K_M.gguf`);
    }
    file('split-ok/split-ok-00001-of-00002.gguf');
    file('split-ok/split-ok-00002-of-00002.gguf');
    file('split-broken/split-broken-00001-of-00003.gguf');
    file('split-broken/split-broken-00002-of-00003.gguf');
    file('loose-00001-of-00003.gguf');
    file('loose-00002-of-00003.gguf');
    file('loose-00003-of-00003.gguf');
    file('name with spaces.gguf');
    file('модель-ü.gguf');
    file('папка с пробелами/model.gguf');
    file('mmproj-orphan.gguf');
    file('notes.txt', Buffer.from('not a model'));
    file('empty.gguf', new Uint8Array());
    writeFileSync(join(outside, 'linked-target.gguf'), model);
    writeFileSync(join(outside, 'linked-folder-target', 'inner.gguf'), model);
    symlinkSync(join(outside, 'linked-target.gguf'), join(dir, 'linked.gguf'));
    symlinkSync(join(outside, 'linked-folder-target'), join(dir, 'linked-folder'));
    symlinkSync(join(root, 'nothing-here.gguf'), join(dir, 'dangling.gguf'));

    catalogue = await new CatalogueScanner('node', dir).scan();
    router = await startLlamaRouter({ modelsDir: dir });
    routerModels = await listRouterModels(router.url);
  });

  afterAll(async () => {
    await router?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('lists exactly the ids the router lists', () => {
    const ids = catalogue.entries.map((e) => e.id).sort();
    expect(ids).toEqual(routerModels.map((m) => m.id).sort());
    expect(ids).toEqual(
      expect.arrayContaining(['linked', 'linked-folder', 'name with spaces', 'модель-ü', 'папка с пробелами', 'loose-00002-of-00003', 'empty', 'split-broken']),
    );
    expect(ids).not.toContain('dangling');
    expect(catalogue.skipped?.map((s) => s.path)).toEqual(['dangling.gguf']);
  });

  it('names as each model the file the router passes as --model, and its projector and drafter', () => {
    expect(catalogue.entries.length).toBeGreaterThan(10);
    for (const entry of catalogue.entries) {
      const args = routerModels.find((m) => m.id === entry.id)?.status.args ?? [];
      const valueOf = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
      expect({ id: entry.id, model: valueOf('--model') }).toEqual({ id: entry.id, model: join(dir, entry.path) });
      expect({ id: entry.id, mmproj: args.includes('--mmproj') ? valueOf('--mmproj') : null }).toEqual({
        id: entry.id,
        mmproj: entry.mmproj === null ? null : join(dir, entry.mmproj),
      });
      if (entry.draft) {
        expect(args).toContain(join(dir, entry.draft));
      }
    }
  });

  it('marks what the router lists but cannot load, with the reason', () => {
    const byId = new Map(catalogue.entries.map((e) => [e.id, e]));
    expect(byId.get('split-ok')).toMatchObject({ valid: true, split: { count: 2, present: [1, 2] }, sizeBytes: 2 * model.length });
    expect(byId.get('split-broken')).toMatchObject({ valid: false, invalidReason: expect.stringMatching(/^shard 3 of 3 missing/) });
    expect(byId.get('loose-00001-of-00003')).toMatchObject({ valid: true, sizeBytes: 3 * model.length });
    expect(byId.get('loose-00002-of-00003')).toMatchObject({ valid: false, invalidReason: expect.stringMatching(/^shard 2 of 3: .*loose-00001-of-00003\.gguf/) });
    expect(byId.get('empty')?.valid).toBe(false);
    expect(byId.get('drafted')).toMatchObject({ valid: true, path: 'drafted/drafted-Q4_K_M.gguf' });
    expect(byId.get('linked-folder')).toMatchObject({ valid: true, path: 'linked-folder/inner.gguf' });
  });
});
