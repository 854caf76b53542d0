// npm run demo-models -- [dir] [--count N]
// Writes tiny llama models (tiny-llama-a.gguf, ...) that llama-server loads, for trying the
// dashboard without downloading a real model. Files that already have the right bytes are kept.
import { stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildTinyModel, demoModels, writeFileIfChanged } from '../gguf/tiny-model.js';

const USAGE = 'usage: npm run demo-models -- [dir (default ./models)] [--count N (default 3)]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { count: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  if (positionals.length > 1) {
    throw new Error(`expected one directory, got ${positionals.length}\n${USAGE}`);
  }
  const count = values.count === undefined ? 3 : Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) {
    throw new Error(`--count must be an integer from 1 to 100, got "${values.count}"`);
  }
  // npm runs scripts from the repository root; resolve the folder against where npm was called.
  const base = process.env['INIT_CWD'] ?? process.cwd();
  const dir = resolve(base, positionals[0] ?? './models');

  for (const model of demoModels(count)) {
    const path = join(dir, `${model.id}.gguf`);
    const written = await writeFileIfChanged(path, buildTinyModel(model.options));
    const { size } = await stat(path);
    const fromBase = relative(base, path);
    const shown = fromBase.startsWith('..') ? path : fromBase;
    console.log(`${shown}  ${(size / 1024).toFixed(0)} KiB  ${written ? 'written' : 'unchanged'}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
