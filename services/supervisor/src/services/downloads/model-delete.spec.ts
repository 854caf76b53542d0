import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError, ErrorCode, type Catalogue, type CatalogueEntry, type ModelState } from '@llamaproxy/shared';
import { deleteModelFiles } from './model-delete.js';

const entry = (id: string, path: string): CatalogueEntry => ({
  id, path, layout: 'single', files: [path], mmproj: null, sizeBytes: 1, modifiedAt: 0, valid: true, invalidReason: null,
  architecture: null, name: null, quantization: null, parameterCount: null, contextLength: null,
});
const state = (id: string, status: ModelState['status']): ModelState => ({ id, status, progress: null, stage: null, args: [], error: null, updatedAt: 0 });

describe(deleteModelFiles.name, () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  const setup = (entries: CatalogueEntry[], states: ModelState[] = []) => {
    const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-del-'));
    dirs.push(dir);
    const catalogue: Catalogue = { nodeId: 'n', modelsDir: dir, scannedAt: 0, entries };
    return { dir, deps: { modelsDir: dir, catalogue: () => catalogue, state: (id: string) => states.find((s) => s.id === id) } };
  };
  const codeOf = async (p: Promise<unknown>): Promise<string | null> => p.then(() => null, (e: unknown) => (e instanceof AppError ? e.code : String(e)));

  it('removes a single-file model, and a folder model as a whole', async () => {
    const { dir, deps } = setup([entry('a', 'a.gguf'), entry('v', 'v/v-Q4_0.gguf')]);
    writeFileSync(join(dir, 'a.gguf'), 'x');
    mkdirSync(join(dir, 'v'));
    writeFileSync(join(dir, 'v', 'v-Q4_0.gguf'), 'x');
    writeFileSync(join(dir, 'v', 'mmproj.gguf'), 'x');
    expect(await deleteModelFiles(deps, 'a')).toBe('a.gguf');
    expect(await deleteModelFiles(deps, 'v')).toBe('v');
    expect(existsSync(join(dir, 'a.gguf')) || existsSync(join(dir, 'v'))).toBe(false);
  });

  it.each(['loaded', 'loading', 'sleeping'] as const)('refuses a %s model (MODEL_LOADED)', async (status) => {
    const { dir, deps } = setup([entry('a', 'a.gguf')], [state('a', status)]);
    writeFileSync(join(dir, 'a.gguf'), 'x');
    expect(await codeOf(deleteModelFiles(deps, 'a'))).toBe(ErrorCode.MODEL_LOADED);
    expect(existsSync(join(dir, 'a.gguf'))).toBe(true);
  });

  it('refuses an unknown model and a path outside the models directory', async () => {
    const { deps } = setup([entry('evil', '../evil.gguf')]);
    expect(await codeOf(deleteModelFiles(deps, 'nope'))).toBe(ErrorCode.MODEL_NOT_FOUND);
    expect(await codeOf(deleteModelFiles(deps, 'evil'))).toBe(ErrorCode.PATH_OUTSIDE_MODELS_DIR);
  });

  it('removes a link, never what it points to', async () => {
    const { dir, deps } = setup([entry('l', 'l.gguf')]);
    const outside = mkdtempSync(join(tmpdir(), 'llamaproxy-del-target-'));
    dirs.push(outside);
    writeFileSync(join(outside, 'real.gguf'), 'x');
    symlinkSync(join(outside, 'real.gguf'), join(dir, 'l.gguf'));
    await deleteModelFiles(deps, 'l');
    expect(existsSync(join(dir, 'l.gguf'))).toBe(false);
    expect(existsSync(join(outside, 'real.gguf'))).toBe(true);
  });
});
