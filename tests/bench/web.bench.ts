/**
 * Web dashboard budget: the gzipped JavaScript that index.html loads before any lazy page
 * (target < 60 KB), and the time to the first rendered dashboard in headless Chromium.
 *
 * The time is measured against the built files served by a tiny static server, without a
 * gateway: the dashboard renders its shell and live figures fill in once a gateway answers.
 * The baseline is the same measurement of an empty page from the same server, in the same run.
 * Chromium is Debian's (/usr/bin/chromium, or CHROMIUM_PATH); the timing row is skipped without it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { row, percentile, type Bench, type BenchRow } from './bench.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const dist = join(root, 'services/web/dist');
const BUDGET_KB = 60;
const RUNS = 5;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const gzKb = (file: string): number => gzipSync(readFileSync(file), { level: 9 }).length / 1024;

/** The entry script and its modulepreload links: everything loaded before a lazy page. */
function initialFiles(kind: 'js' | 'css'): string[] {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const pattern = kind === 'js' ? /<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\.?\/?([^"]+\.js)"/g : /<link[^>]+rel="stylesheet"[^>]+href="\.?\/?([^"]+\.css)"/g;
  return [...html.matchAll(pattern)].map((m) => join(dist, m[1] ?? ''));
}

function sizeRows(): BenchRow[] {
  const js = initialFiles('js');
  if (js.length === 0) {
    throw new Error('no entry script found in dist/index.html');
  }
  const jsKb = js.reduce((sum, f) => sum + gzKb(f), 0);
  const cssKb = initialFiles('css').reduce((sum, f) => sum + gzKb(f), 0);
  return [
    row({ figure: 'initial JavaScript, gzipped', value: jsKb, unit: 'KB', target: `< ${BUDGET_KB} KB`, met: jsKb < BUDGET_KB }),
    row({ figure: 'initial CSS, gzipped', value: cssKb, unit: 'KB' }),
  ];
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json' };

/** Serves dist/ with the SPA fallback, plus /empty.html for the baseline. */
function serve(): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/empty.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>empty</title><p>empty</p>');
      return;
    }
    const file = normalize(join(dist, path));
    const found = file.startsWith(dist) && existsSync(file) && statSync(file).isFile() ? file : join(dist, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(found)] ?? 'application/octet-stream' }).end(readFileSync(found));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function renderRows(): Promise<BenchRow[]> {
  if (!existsSync(CHROMIUM)) {
    return [];
  }
  const { chromium } = await import('playwright-core');
  const server = await serve();
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  try {
    // Expressions run in the page (the tests' tsconfig has no DOM types).
    const measure = async (path: string, ready: string, expression: string): Promise<number> => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(base + path, { waitUntil: 'commit' });
      await page.waitForSelector(ready, { state: 'attached', timeout: 15_000 });
      const ms = Number(await page.evaluate(expression));
      await context.close();
      return ms;
    };
    const app: number[] = [];
    const empty: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      app.push(await measure('/', 'html[data-first-render]', "performance.getEntriesByName('llamaproxy:first-dashboard')[0].startTime"));
      empty.push(await measure('/empty.html', 'p', "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"));
    }
    return [
      row({
        figure: `first rendered dashboard, headless Chromium (p50 of ${RUNS})`,
        value: percentile(app, 50),
        unit: 'ms',
        baseline: percentile(empty, 50),
        baselineLabel: 'empty page, same server',
      }),
    ];
  } finally {
    await browser.close();
    server.close();
  }
}

const bench: Bench = {
  name: 'web',
  async run() {
    execFileSync('npm', ['run', 'build', '-w', 'services/web'], { cwd: root, stdio: 'ignore' });
    return [...sizeRows(), ...(await renderRows())];
  },
};

export default bench;
