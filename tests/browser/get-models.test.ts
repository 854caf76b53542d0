/**
 * Getting a model from Hugging Face as a user does it: Debian's Chromium (playwright-core) on the
 * built web app behind nginx, the real stack as processes, and the Hub stand-in as HF_ENDPOINT.
 * Search → open the repository → the quantization row (size, fits) → Download → progress (bytes,
 * speed, time left) → done → Load: the model reaches `loaded` in the real llama-server.
 *
 *   npx vitest run --project integration tests/browser/get-models.test.ts
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildTinyModel } from '../src/gguf/tiny-model.js';
import { HfHubStandIn, REPO_ROOT } from '../src/harness/index.js';
import { launchChromium, type ChromiumSession } from './support/chromium.js';
import { WebStack } from './support/web-stack.js';

const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const UI_MS = 15_000;
const LOAD_MS = 60_000;
const model = buildTinyModel({ seed: 21, name: 'tiny-from-hub', embeddingLength: 128, feedForwardLength: 512 });

describe('Get models page in Chromium: search, download with progress, load', () => {
  let hub: HfHubStandIn;
  let stack: WebStack | undefined;
  let chromium: ChromiumSession | undefined;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    hub = await HfHubStandIn.start({
      repos: [
        { id: 'acme/tiny-from-hub-GGUF', downloads: 1234, likes: 5, files: [{ path: 'README.md', data: Buffer.from('# tiny') }, { path: 'tiny-from-hub-Q8_0.gguf', data: model }] },
        { id: 'acme/other-GGUF', gated: true, downloads: 3, files: [{ path: 'other-Q4_K_M.gguf', data: model }] },
      ],
    });
    // Slow enough that the page shows the download running (a few progress reports).
    hub.throttle = { chunkBytes: 16 * 1024, delayMs: 150 };
    stack = await WebStack.start({
      redisUrl: `${inject('redisUrl')}/7`,
      llamaServerBin: inject('llamaServerBin'),
      basePath: '/',
      nodeId: 'browser-hf',
      modelCount: 1,
      env: { HF_ENDPOINT: hub.endpoint },
    });
    chromium = await launchChromium();
    page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  }, 240_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && stack !== undefined) {
      console.error(`${task.name}: failed at ${page?.url()}\n${stack.diagnostics()}`);
      await page?.screenshot({ path: join(SCREENSHOTS, 'failed-get-models.png'), fullPage: true }).catch(() => undefined);
    }
  });

  afterAll(async () => {
    await chromium?.close().catch(() => undefined);
    await stack?.stop();
    await hub?.close();
  }, 60_000);

  it('finds a repository, downloads its Q8_0 row with progress, and loads the model', { timeout: 180_000 }, async () => {
    await page.goto(stack?.url ?? '');
    await page.locator('.connection[data-status="connected"]').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Get models', exact: true }).click();
    await page.locator('[data-page="get-models"]').waitFor({ state: 'visible' });

    await page.getByLabel('Model name', { exact: true }).fill('GGUF');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const results = page.locator('.hf-results tbody tr');
    await results.nth(1).waitFor();
    expect(await results.locator('.repo-id').allTextContents()).toEqual(['acme/tiny-from-hub-GGUF', 'acme/other-GGUF']);
    expect(await page.locator('tr[data-repo="acme/other-GGUF"] .badge').textContent()).toBe('gated');

    const row = page.locator('.hf-groups tr[data-key="tiny-from-hub-Q8_0.gguf"]');
    // The metrics collector reports this machine's memory: a tiny model fits. Until its first
    // sample has reached the gateway the answer is "unknown", so the files are asked for again.
    await expect
      .poll(
        async () => {
          await page.locator('tr[data-repo="acme/tiny-from-hub-GGUF"]').getByRole('button', { name: 'Files' }).click();
          await row.waitFor();
          return row.locator('.badge').textContent();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe('fits');
    expect(await row.locator('td').first().textContent()).toBe('Q8_0');
    await row.getByLabel('Model name for tiny-from-hub-Q8_0.gguf').fill('tiny-from-hub');
    await row.getByRole('button', { name: 'Download' }).click();

    const download = page.locator('.download', { has: page.locator('.name', { hasText: /^tiny-from-hub$/ }) });
    // Running: bytes of the total, speed and time left, and the bar's value.
    await download.locator('.line', { hasText: /^[1-9][\d.]* [KM]iB of [\d.]+ MiB · [1-9][\d.]* [KM]iB\/s · .* left$/ }).waitFor({ timeout: 30_000 });
    expect(Number(await download.getByRole('progressbar').getAttribute('aria-valuenow'))).toBeGreaterThan(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'get-models-downloading.png'), fullPage: true });

    // The Models page shows the running download too; once it is done the model is in its table
    // at once (the supervisor rescans), and loads in the real llama-server.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models', exact: true }).click();
    const running = page.locator('.downloads-panel .download', { has: page.locator('.name', { hasText: /^tiny-from-hub$/ }) });
    await running.locator('.line', { hasText: / of / }).waitFor({ timeout: 30_000 });
    await page.screenshot({ path: join(SCREENSHOTS, 'models-downloading.png'), fullPage: true });
    await page.locator('tr[data-id="tiny-from-hub"]').waitFor({ timeout: 60_000 });
    await page.locator('.downloads-panel').waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Load tiny-from-hub', exact: true }).click();
    await page.locator('tr[data-id="tiny-from-hub"] .status .badge', { hasText: /^loaded$/ }).waitFor({ timeout: LOAD_MS });
    await page.screenshot({ path: join(SCREENSHOTS, 'get-models-loaded.png'), fullPage: true });

    // Back on Get models, the download is listed as done, with its size.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Get models', exact: true }).click();
    const done = page.locator('.download', { has: page.locator('.name', { hasText: /^tiny-from-hub$/ }) });
    await done.locator('.badge.state', { hasText: /^completed$/ }).waitFor();
    expect(await done.locator('.line').textContent()).toBe(`done: ${(model.length / 1024 / 1024).toFixed(2)} MiB`);
    expect(problems).toEqual([]);
  });
});
