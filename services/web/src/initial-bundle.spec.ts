/**
 * Guards the initial bundle budget: modules reachable from main.ts through static imports may
 * import only types from @llamaproxy/shared (a value import pulls zod, ~35 KB gzipped), and
 * neither zod nor uPlot. Lazy pages (dynamic `import()`) are not followed.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));
const STATIC_IMPORT = /^import\s+(type\s+)?([^'";]*?)\s*from\s*'([^']+)'|^import\s+'([^']+)'/gm;
const HEAVY = ['@llamaproxy/shared', 'zod', 'uplot'];

function walk(file: string, seen: Map<string, string[]>): void {
  if (seen.has(file)) {
    return;
  }
  const offenders: string[] = [];
  seen.set(file, offenders);
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(STATIC_IMPORT)) {
    const typeOnly = m[1] !== undefined;
    const target = m[3] ?? m[4] ?? '';
    if (target.startsWith('.')) {
      if (!typeOnly && target.endsWith('.js')) {
        walk(resolve(dirname(file), target.replace(/\.js$/, '.ts')), seen);
      }
    } else if (!typeOnly && HEAVY.some((pkg) => target === pkg || target.startsWith(`${pkg}/`))) {
      offenders.push(target);
    }
  }
}

describe('initial bundle', () => {
  it('keeps zod, uPlot and runtime values of @llamaproxy/shared out of the eager modules', () => {
    const seen = new Map<string, string[]>();
    walk(resolve(src, 'main.ts'), seen);
    const offenders = [...seen].filter(([, found]) => found.length > 0).map(([file, found]) => `${file.slice(src.length + 1)}: ${found.join(', ')}`);
    expect(seen.size).toBeGreaterThan(20);
    expect(offenders).toEqual([]);
  });
});
