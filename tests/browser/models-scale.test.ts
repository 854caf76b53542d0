/**
 * The Models page at 2,000 models, as a user sees it in Debian's Chromium against the real stack
 * (supervisor and real llama-server over a model farm: hard links of one tiny model and of one
 * metadata-only large-vocabulary header; gateway; nginx serving the built app):
 * - only a window of rows is in the DOM, each exactly one row height;
 * - the search narrows the list;
 * - loading a model changes its row in place: no other row is replaced or touched;
 * - an opened error (exit code, log tail) keeps the row's height;
 * - the list scrolls to its last model.
 *
 *   npx vitest run --project integration tests/browser/models-scale.test.ts
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, waitFor } from '../src/harness/index.js';
import { launchChromium, type ChromiumSession } from './support/chromium.js';
import { WebStack } from './support/web-stack.js';

const COUNT = 2000;
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const UI_MS = 15_000;
/**
 * Longest wait for the supervisor to take control jobs, then for the load: on this branch the
 * supervisor takes jobs only after its catalogue scan of the 1,000 large-vocabulary headers
 * (minutes on a busy 2-core machine).
 */
const LOAD_MS = 240_000;
/** MODEL_ROW_HEIGHT of services/web/src/components/model-row.ts. */
const ROW_HEIGHT = 72;

/**
 * Scripts run in the page (this project's test types have no DOM, so they are source text):
 * the ids of the rendered model rows, in order; marking every rendered row's element and
 * recording every DOM change under the rows; and what changed since.
 */
const RENDERED_IDS = `[...document.querySelectorAll('tr.model-row')].map((tr) => tr.dataset.id)`;
const MARK_AND_WATCH = `(() => {
  window.changedIds = new Set();
  for (const tr of document.querySelectorAll('tr.model-row')) tr.marker = tr.dataset.id;
  window.rowObserver = new MutationObserver((records) => {
    for (const r of records) {
      const target = r.target instanceof Element ? r.target : r.target.parentElement;
      window.changedIds.add(target?.closest('tr.model-row')?.dataset.id ?? '(outside a row)');
    }
  });
  window.rowObserver.observe(document.querySelector('tbody.rows'), { subtree: true, childList: true, characterData: true, attributes: true });
})()`;
const WHAT_CHANGED = `(() => {
  window.rowObserver.disconnect();
  const rows = [...document.querySelectorAll('tr.model-row')];
  return { ids: rows.map((tr) => tr.dataset.id), unmarked: rows.filter((tr) => tr.marker !== tr.dataset.id).length, changed: [...window.changedIds] };
})()`;

describe('the Models page at 2,000 models in Chromium', () => {
  let stack: WebStack | undefined;
  let chromium: ChromiumSession | undefined;
  let page: Page;
  const problems: string[] = [];

  const count = (text: string): Promise<void> => page.locator('[data-page="models"] .count', { hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: UI_MS });

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await WebStack.start({
      redisUrl: `${inject('redisUrl')}/14`,
      llamaServerBin: inject('llamaServerBin'),
      basePath: '/',
      nodeId: 'scale-node',
      modelCount: COUNT,
      farm: { count: COUNT, headers: 1000 },
      servicesTimeoutMs: 240_000,
    });
    chromium = await launchChromium();
    page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  }, 300_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && stack !== undefined) {
      console.error(`${task.name}: failed at ${page?.url()}\n${stack.diagnostics()}`);
      await page?.screenshot({ path: join(SCREENSHOTS, `failed-${task.name.replace(/\W+/g, '-').slice(0, 60)}.png`) }).catch(() => undefined);
    }
  });

  afterAll(async () => {
    await chromium?.close().catch((err: unknown) => console.error(`closing Chromium: ${(err as Error).message}`));
    await stack?.stop();
  }, 60_000);

  it('shows all 2,000 models with only a window of fixed-height rows in the DOM', async () => {
    await page.goto(`${stack?.url ?? ''}models`);
    await count(`${COUNT} of ${COUNT}`);
    const ids = await page.evaluate<string[]>(RENDERED_IDS);
    expect(ids[0]).toBe('farm-00001');
    expect(ids.length).toBeGreaterThan(5);
    expect(ids.length).toBeLessThan(100);
    const heights = await page.evaluate<number[]>(`[...document.querySelectorAll('tr.model-row')].map((tr) => tr.offsetHeight)`);
    expect(new Set(heights)).toEqual(new Set([ROW_HEIGHT]));
    await page.screenshot({ path: join(SCREENSHOTS, 'models-2000.png') });
  });

  it('narrows the list as the user types a search, and widens it again when cleared', async () => {
    const search = page.getByRole('searchbox', { name: 'Search models' });
    await search.pressSequentially('farm-0190', { delay: 20 });
    await count(`10 of ${COUNT}`);
    expect(await page.evaluate<string[]>(RENDERED_IDS)).toEqual(Array.from({ length: 10 }, (_, i) => `farm-0190${i}`));
    await search.fill('');
    await count(`${COUNT} of ${COUNT}`);
  });

  it('updates only the row of the model that loads, in place', async () => {
    const modelId = stack?.farm?.loadable[0] ?? '';
    const row = page.locator(`tr[data-id="${modelId}"]`);
    await row.waitFor();
    // Mark every rendered row's element, and record every DOM change under the rows from now on.
    await page.evaluate(MARK_AND_WATCH);
    const before = await page.evaluate<string[]>(RENDERED_IDS);

    // A load asked before the supervisor takes control jobs fails at once (SUPERVISOR_UNAVAILABLE).
    await stack?.supervisor?.waitForLine(/taking control jobs/, LOAD_MS);
    await page.getByRole('button', { name: `Load ${modelId}`, exact: true }).click();
    await row.locator('.status .badge').filter({ hasText: /^loaded$/ }).waitFor({ timeout: LOAD_MS });

    const after = await page.evaluate<{ ids: string[]; unmarked: number; changed: string[] }>(WHAT_CHANGED);
    expect(after.ids).toEqual(before);
    // The same element objects: none was recreated.
    expect(after.unmarked).toBe(0);
    // And nothing in any other row changed.
    expect(after.changed).toEqual([modelId]);
  }, 2 * LOAD_MS + 30_000);

  it("keeps the row height when a model's error is opened: the exit code and log tail float over the rows below", async () => {
    const modelId = stack?.farm?.headers[0] ?? '';
    const row = page.locator(`tr[data-id="${modelId}"]`);
    // A metadata-only header has no tensors: llama-server fails to load it.
    await page.getByRole('button', { name: `Load ${modelId}`, exact: true }).click();
    await row.locator('.status .badge').filter({ hasText: /^error$/ }).waitFor({ timeout: LOAD_MS });
    await row.locator('.reason summary').click();
    await row.locator('.reason-detail').waitFor();
    const heights = await page.evaluate<number[]>(`[...document.querySelectorAll('tr.model-row')].map((tr) => tr.offsetHeight)`);
    expect(new Set(heights)).toEqual(new Set([ROW_HEIGHT]));
    await page.screenshot({ path: join(SCREENSHOTS, 'models-2000-error.png') });
  }, LOAD_MS + 30_000);

  it('scrolls to the last model', async () => {
    await page.evaluate(`(() => { const el = document.querySelector('.models-scroll'); el.scrollTop = el.scrollHeight; })()`);
    await page.locator(`tr[data-id="farm-0${COUNT}"]`).waitFor();
    const ids = await page.evaluate<string[]>(RENDERED_IDS);
    expect(ids.at(-1)).toBe(`farm-0${COUNT}`);
    expect(ids.length).toBeLessThan(100);
    await waitFor(async () => (await page.locator(`tr[data-id="farm-0${COUNT}"]`).boundingBox()) !== null, { timeoutMs: UI_MS, what: 'the last row on screen' });
    expect(problems).toEqual([]);
  });
});
