/**
 * npm run bench [-- name...]: runs every benchmark in this folder (or the named ones) and prints one
 * table: figure, value, the baseline measured in the same run, their ratio, and the target.
 * Benchmarks never run in CI's pass/fail path.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bench, BenchRow } from './bench.js';

const here = dirname(fileURLToPath(import.meta.url));

async function main(filter: string[]): Promise<void> {
  const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
  const results: { bench: string; rows: BenchRow[]; error?: string }[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(`${here}/${file}`).href)) as { default: Bench };
    const bench = mod.default;
    if (filter.length > 0 && !filter.includes(bench.name)) {
      continue;
    }
    process.stderr.write(`running ${bench.name}...\n`);
    try {
      results.push({ bench: bench.name, rows: await bench.run() });
    } catch (err) {
      results.push({ bench: bench.name, rows: [], error: (err as Error).stack ?? String(err) });
    }
  }
  printTable(results);
  if (results.some((r) => r.error !== undefined)) {
    process.exitCode = 1;
  }
}

function fmt(value: number | null, unit = ''): string {
  if (value === null || Number.isNaN(value)) {
    return '-';
  }
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

function printTable(results: { bench: string; rows: BenchRow[]; error?: string }[]): void {
  const header = ['bench', 'figure', 'value', 'baseline', 'ratio', 'target', 'met'];
  const lines: string[][] = [];
  for (const r of results) {
    if (r.error !== undefined) {
      lines.push([r.bench, `FAILED: ${r.error.split('\n')[0] ?? ''}`, '', '', '', '', '']);
    }
    for (const x of r.rows) {
      const ratio = x.baseline !== null && x.baseline !== 0 ? x.value / x.baseline : null;
      lines.push([
        r.bench,
        x.figure,
        fmt(x.value, x.unit),
        x.baseline === null ? '-' : `${fmt(x.baseline, x.unit)} (${x.baselineLabel ?? 'baseline'})`,
        ratio === null ? '-' : `${ratio.toFixed(2)}x`,
        x.target ?? '-',
        x.met === null ? '-' : x.met ? 'yes' : 'NO',
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const print = (cells: string[]): void => console.log(cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | '));
  print(header);
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  lines.forEach(print);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
