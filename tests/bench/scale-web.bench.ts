/**
 * Scale, the gateway → browser side (issue 17): at 100, 1,000 and 5,000 models (SCALE_SIZES to
 * change), with a real gateway process, real Redis, nginx serving the built app and Debian's
 * headless Chromium:
 * - `models:list`: the median of a first page (200) and, as the same-run baseline, of the whole
 *   list (what every call answered before paging);
 * - the snapshot a client gets on connect, against the same snapshot holding the whole list;
 * - what a catalogue change with one new model sends every client;
 * - the Models page: the longest main-thread freeze (long tasks, PerformanceObserver) at load
 *   (warm cache; the Settings page of the same app, which also receives the model list, is the
 *   baseline) and on one load + unload, and the worst keystroke latency (key event → the next frame) while
 *   typing a search at 60 ms per key, with the longest freeze while typing.
 *
 * The gateway is fed synthetic model state through the supervisor's status stream (a catalogue,
 * then `model` state events for the load + unload): a real supervisor and llama-server with 5,000
 * models would measure their own start, which is scale-sup's bench, not this one.
 *
 * Written against the API of both sides of the change (a whole-list `models:list` and snapshot
 * before, pages and `models:changed` after), so the same file measures the tree it runs in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { RedisKeys } from '@llamaproxy/shared';
import { freePort, publishToStream, startRedis, startService, TestClient, waitFor, type ManagedProcess } from '../src/harness/index.js';
import { startNginx } from '../browser/support/nginx.js';
import { ensureWebBuild } from '../browser/support/web-build.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';

const SIZES = (process.env.SCALE_SIZES ?? '100,1000,5000').split(',').map(Number);
const NODE_ID = 'scale-bench-node';
const LIST_RUNS = 15;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const FREEZE_TARGET_MS = 100;
const KEY_TARGET_MS = 50;
const UI_MS = 180_000;

const id = (i: number): string => `farm-${String(i).padStart(5, '0')}`;

/** A catalogue entry as the supervisor reports one (a fixed modification time: files unchanged). */
function entry(modelId: string): Record<string, unknown> {
  return {
    id: modelId,
    path: `${modelId}.gguf`,
    layout: 'single',
    files: [`${modelId}.gguf`],
    mmproj: null,
    sizeBytes: 4_368_439_584,
    modifiedAt: 1_700_000_000_000,
    valid: true,
    invalidReason: null,
    architecture: 'qwen2',
    name: `Qwen2.5 7B Instruct (${modelId})`,
    quantization: 'Q4_K_M',
    parameterCount: 7_615_616_512,
    contextLength: 32_768,
  };
}

function catalogue(count: number, extra: string[] = []): Record<string, unknown> {
  const ids = [...Array.from({ length: count }, (_, i) => id(i + 1)), ...extra];
  return { nodeId: NODE_ID, modelsDir: '/models', scannedAt: Date.now(), entries: ids.map(entry), skipped: [] };
}

function state(modelId: string, status: string, progress: number | null = null): Record<string, unknown> {
  return { id: modelId, status, progress, stage: progress === null ? null : 'text_model', args: [], error: null, updatedAt: Date.now() };
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/** Installed before the app's scripts: long tasks, and key event → next frame latencies. */
const PAGE_PROBES = `
  window.__longest = 0;
  window.__keys = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
  }).observe({ type: 'longtask', buffered: true });
  document.addEventListener('keydown', (e) => {
    const t0 = e.timeStamp;
    requestAnimationFrame(() => setTimeout(() => window.__keys.push(performance.now() - t0), 0));
  }, true);
`;
/** Two frames, so work queued by the last change has run and been observed. */
const SETTLE = `new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(ok, 50))))`;

interface SizeResult {
  listPage: number;
  listWhole: number;
  snapshotBytes: number;
  snapshotWholeBytes: number;
  deltaBytes: number;
  wholeListBytes: number;
  /** The longest freeze opening the Settings page (the same app, no models table), warm. */
  bootFreeze: number;
  loadFreeze: number;
  toggleFreeze: number;
  worstKey: number;
  typingFreeze: number;
}

async function measureSize(n: number, redisUrl: string, dist: string, browser: Browser): Promise<SizeResult> {
  const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-scale-bench-'));
  const redis = new Redis(redisUrl);
  let gateway: ManagedProcess | null = null;
  let nginx: Awaited<ReturnType<typeof startNginx>> | null = null;
  const clients: TestClient[] = [];
  try {
    await redis.flushdb();
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId: NODE_ID, catalogue: catalogue(n) });
    const port = await freePort();
    gateway = startService('gateway', { AUTH_MODE: 'none', REDIS_URL: redisUrl, DATA_DIR: dir, GATEWAY_PORT: String(port), GATEWAY_HOST: '127.0.0.1', SUPERVISOR_NODE_ID: NODE_ID });
    const url = `http://127.0.0.1:${port}`;
    await waitFor(async () => (await fetch(`${url}/readyz`)).ok, { timeoutMs: 60_000, what: 'gateway ready' });
    const client = await TestClient.connect(url);
    clients.push(client);
    const request = client.request.bind(client) as (event: string, payload: Record<string, unknown>) => Promise<{ success: boolean; data: { models: unknown[] } }>;
    await waitFor(async () => (await request('models:list', {})).data.models.length === n, { timeoutMs: 120_000, what: `${n} models ingested` });

    // Warmed up, then the two reads alternate, so both see the same machine.
    const wholeRuns: number[] = [];
    const pageRuns: number[] = [];
    const timed = async (payload: Record<string, unknown>, into: number[]): Promise<void> => {
      const start = performance.now();
      const reply = await request('models:list', payload);
      into.push(performance.now() - start);
      if (!reply.success) {
        throw new Error('models:list failed');
      }
    };
    for (let i = 0; i < 3; i++) {
      await timed({}, []);
      await timed({ limit: 200 }, []);
    }
    for (let i = 0; i < LIST_RUNS; i++) {
      await timed({}, wholeRuns);
      await timed({ limit: 200 }, pageRuns);
    }
    const listWhole = percentile(wholeRuns, 50);
    const listPage = percentile(pageRuns, 50);
    const whole = (await request('models:list', {})).data.models;

    const fresh = await TestClient.connect(url);
    clients.push(fresh);
    const snapshot = (await fresh.waitForBroadcast('snapshot', () => true)).data as unknown as Record<string, unknown>;
    const snapshotBytes = bytes(snapshot);
    const snapshotWholeBytes = bytes({ ...snapshot, models: whole });

    // One more model in the catalogue: what reaches every client.
    const received = fresh.received.length;
    await publishToStream(redis, RedisKeys.statusStream, { kind: 'catalogue', nodeId: NODE_ID, catalogue: catalogue(n, ['zz-new-model']) });
    const delta = await waitFor(
      () => fresh.received.slice(received).find((r) => r.event === 'models:changed' || r.event === 'models:list'),
      { timeoutMs: 60_000, what: 'the broadcast of a catalogue change' },
    );
    const deltaBytes = bytes(delta.payload);

    // The Models page in Chromium.
    nginx = await startNginx({ root: dist, basePath: '/', gatewayUpstream: url });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.addInitScript(PAGE_PROBES);
      const total = n + 1;
      // Warm (HTTP and code cache), then the same app without the models table as the baseline.
      let bootFreeze = 0;
      for (let i = 0; i < 2; i++) {
        await page.goto(`${nginx.url}settings`);
        await page.locator('[data-page="settings"]').waitFor({ timeout: UI_MS });
        await page.evaluate(SETTLE);
        bootFreeze = Number(await page.evaluate('window.__longest'));
      }
      await page.goto(`${nginx.url}models`);
      await page.locator('[data-page="models"] .count', { hasText: new RegExp(`^${total} of ${total}$`) }).waitFor({ timeout: UI_MS });
      await page.evaluate(SETTLE);
      const loadFreeze = Number(await page.evaluate('window.__longest'));

      await page.evaluate('window.__longest = 0');
      const badge = page.locator(`tr[data-id="${id(1)}"] .status .badge`);
      for (const [status, progress] of [['loading', 0.5], ['loaded', null], ['unloaded', null]] as const) {
        await publishToStream(redis, RedisKeys.statusStream, { kind: 'model', nodeId: NODE_ID, model: state(id(1), status, progress) });
        await badge.filter({ hasText: new RegExp(`^${status}$`) }).waitFor({ timeout: UI_MS });
      }
      await page.evaluate(SETTLE);
      const toggleFreeze = Number(await page.evaluate('window.__longest'));

      await page.evaluate('window.__longest = 0; window.__keys = []');
      const search = page.getByRole('searchbox', { name: 'Search models' });
      await search.click();
      const typed = id(Math.min(42, n));
      await search.pressSequentially(typed, { delay: 60 });
      await page.locator('[data-page="models"] .count', { hasText: new RegExp(`^1 of ${total}$`) }).waitFor({ timeout: UI_MS });
      await page.evaluate(SETTLE);
      const keys = await page.evaluate<number[]>('window.__keys');
      const typingFreeze = Number(await page.evaluate('window.__longest'));
      return { listPage, listWhole, snapshotBytes, snapshotWholeBytes, deltaBytes, wholeListBytes: bytes(whole), bootFreeze, loadFreeze, toggleFreeze, worstKey: Math.max(...keys), typingFreeze };
    } finally {
      await context.close();
    }
  } finally {
    for (const c of clients) {
      c.close();
    }
    await nginx?.stop();
    await gateway?.stop();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bench: Bench = {
  name: 'scale',
  async run(): Promise<BenchRow[]> {
    const dist = await ensureWebBuild();
    const redisFixture = await startRedis();
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    const rows: BenchRow[] = [];
    try {
      for (const n of SIZES) {
        process.stderr.write(`  scale (web): ${n} models...\n`);
        const r = await measureSize(n, `${redisFixture.url}/15`, dist, browser);
        const at5000 = n >= 5000;
        rows.push(
          row({ figure: `${n} models: models:list first page (200), median of ${LIST_RUNS}`, value: r.listPage, unit: 'ms', baseline: r.listWhole, baselineLabel: 'whole list' }),
          row({ figure: `${n} models: snapshot on connect`, value: r.snapshotBytes / 1024, unit: 'KB', baseline: r.snapshotWholeBytes / 1024, baselineLabel: 'with the whole list' }),
          row({ figure: `${n} models: broadcast of a catalogue change (+1 model)`, value: r.deltaBytes / 1024, unit: 'KB', baseline: r.wholeListBytes / 1024, baselineLabel: 'the whole list' }),
          row({
            figure: `${n} models: Models page, longest freeze at load (warm cache)`,
            value: r.loadFreeze,
            unit: 'ms',
            baseline: r.bootFreeze,
            baselineLabel: 'Settings page',
            ...(at5000 ? { target: `≤ ${FREEZE_TARGET_MS} ms`, met: r.loadFreeze <= FREEZE_TARGET_MS } : {}),
          }),
          row({
            figure: `${n} models: Models page, longest freeze on one load + unload`,
            value: r.toggleFreeze,
            unit: 'ms',
            ...(at5000 ? { target: `≤ ${FREEZE_TARGET_MS} ms`, met: r.toggleFreeze <= FREEZE_TARGET_MS } : {}),
          }),
          row({
            figure: `${n} models: Models page, worst keystroke (key → next frame) typing a search`,
            value: r.worstKey,
            unit: 'ms',
            ...(at5000 ? { target: `≤ ${KEY_TARGET_MS} ms`, met: r.worstKey <= KEY_TARGET_MS } : {}),
          }),
          row({ figure: `${n} models: Models page, longest freeze while typing a search`, value: r.typingFreeze, unit: 'ms' }),
        );
      }
    } finally {
      await browser.close();
      await redisFixture.stop();
    }
    return rows;
  },
};

export default bench;
