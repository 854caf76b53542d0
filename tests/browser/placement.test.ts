/**
 * Memory-aware placement as a user sees it (issue #14): Chromium against the real stack (a
 * supervisor with PLACEMENT=memory and a RAM budget that holds one tiny model but not two, the
 * gateway, nginx). The memory bar shows the loaded model on the Models page and the Dashboard;
 * the Load button of a second model first names the model it would unload, and does nothing on
 * Cancel; a pinned model makes a load impossible, which the button says before it acts.
 *
 *   npx vitest run --project integration tests/browser/placement.test.ts
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, TestClient, waitFor } from '../src/harness/index.js';
import { launchChromium, type ChromiumSession } from './support/chromium.js';
import { WebStack } from './support/web-stack.js';

const NODE_ID = 'placement-browser-node';
const [A, B] = ['tiny-llama-a', 'tiny-llama-b'];
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const UI_MS = 15_000;
const LOAD_MS = 60_000;
/** One tiny model holds about 15-20 MiB (estimated and measured); two do not fit in 26 MiB. */
const RAM_BUDGET = '26MiB';

describe('memory-aware placement in Chromium, against the real stack', () => {
  let stack: WebStack | undefined;
  let chromium: ChromiumSession | undefined;
  let page: Page;
  const problems: string[] = [];

  const url = (path = ''): string => `${stack?.url ?? ''}${path}`;
  const badge = (model: string) => page.locator(`tr[data-id="${model}"] .status .badge`);
  const memoryBar = () => page.locator('.memory-bars .memory-device[data-device$="/cpu"]');

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await WebStack.start({
      redisUrl: `${inject('redisUrl')}/12`,
      llamaServerBin: inject('llamaServerBin'),
      basePath: '/',
      nodeId: NODE_ID,
      modelCount: 2,
      supervisorEnv: { PLACEMENT: 'memory', RAM_BUDGET },
    });
    // The supervisor estimates every model's footprint once it knows its devices: the preview needs them.
    const client = await TestClient.connect(stack.gatewayUrl);
    try {
      await waitFor(
        async () => {
          const snapshot = await client.request('snapshot:get', {});
          const report = snapshot.success ? snapshot.data.memory?.find((r) => r.nodeId === NODE_ID) : undefined;
          return report !== undefined && report.footprints.length === 2;
        },
        { timeoutMs: 60_000, what: 'a memory report with both footprints' },
      );
    } finally {
      client.close();
    }
    chromium = await launchChromium();
    page = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(`console error: ${message.text()}`);
      }
    });
  }, 180_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && stack !== undefined) {
      console.error(`${task.name}: failed at ${page?.url()}\n${stack.diagnostics()}`);
      await page?.screenshot({ path: join(SCREENSHOTS, `failed-placement-${task.name.replace(/\W+/g, '-').slice(0, 50)}.png`), fullPage: true }).catch(() => undefined);
    }
  });

  afterAll(async () => {
    await chromium?.close().catch((err: unknown) => console.error(`closing Chromium: ${(err as Error).message}`));
    await stack?.stop();
  }, 60_000);

  it('shows the loaded model in the memory bar of the Models page and of the Dashboard', async () => {
    await page.goto(url('models'));
    await page.locator('[data-page="models"]').waitFor();
    await memoryBar().waitFor();
    expect(await memoryBar().locator('.memory-figures').textContent()).toContain('26.0 MiB budget');
    await page.getByRole('button', { name: `Load ${A}`, exact: true }).click();
    // A fits in the free room: no question asked.
    await badge(A).filter({ hasText: /^loaded$/ }).waitFor({ timeout: LOAD_MS });
    expect(await page.locator('dialog.load-preview').count()).toBe(0);
    await memoryBar().locator(`.memory-segment[data-model="${A}"]`).waitFor();
    await memoryBar().locator(`.memory-legend li[data-model="${A}"]`).waitFor();
    expect(await memoryBar().locator('.memory-track').getAttribute('aria-label')).toMatch(new RegExp(`^cpu: ${A} [\\d.]+ MiB; [\\d.]+ (KiB|MiB) free of 26.0 MiB$`));
    // Estimate and measurement side by side: A is measured after its load, B only estimated.
    const footprints = page.locator('details.footprints');
    await footprints.locator('summary').click();
    await footprints.locator(`tr[data-model="${A}"] .measured`, { hasText: /^cpu [\d.]+ MiB$/ }).waitFor();
    expect(await footprints.locator(`tr[data-model="${A}"] .estimated`).textContent()).toMatch(/^cpu [\d.]+ MiB$/);
    expect(await footprints.locator(`tr[data-model="${B}"] .measured`).textContent()).toBe('not loaded yet');
    await page.screenshot({ path: join(SCREENSHOTS, 'placement-models.png'), fullPage: true });

    await page.goto(url());
    await page.locator('[data-page="dashboard"]').waitFor();
    await memoryBar().locator(`.memory-legend li[data-model="${A}"]`).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'placement-dashboard.png'), fullPage: true });
  });

  it('names the model a load would evict before it acts; Cancel loads nothing, confirming swaps the models', async () => {
    await page.goto(url('models'));
    await badge(A).filter({ hasText: /^loaded$/ }).waitFor();
    await page.getByRole('button', { name: `Load ${B}`, exact: true }).click();
    const dialog = page.locator('dialog.load-preview');
    await dialog.waitFor();
    expect(await dialog.getAttribute('data-kind')).toBe('evicts');
    expect(await dialog.locator('.load-preview-text').textContent()).toBe(`Loading ${B} unloads ${A} to make room (least recently used first).`);
    expect(await dialog.locator('.load-preview-evict li').allTextContents()).toEqual([A]);
    await page.screenshot({ path: join(SCREENSHOTS, 'placement-load-preview.png'), fullPage: true });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await badge(B).textContent()).toBe('unloaded');
    expect(await badge(A).textContent()).toBe('loaded');

    await page.getByRole('button', { name: `Load ${B}`, exact: true }).click();
    await dialog.getByRole('button', { name: `Load and unload ${A}` }).click();
    await badge(B).filter({ hasText: /^loaded$/ }).waitFor({ timeout: LOAD_MS });
    await badge(A).filter({ hasText: /^unloaded$/ }).waitFor({ timeout: LOAD_MS });
    await memoryBar().locator(`.memory-legend li[data-model="${B}"]`).waitFor();
    await memoryBar().locator(`.memory-legend li[data-model="${A}"]`).waitFor({ state: 'detached' });
  });

  it('pins a model from the placement settings; a load that cannot fit then says so before it acts', async () => {
    const card = page.locator('.placement-settings');
    await card.getByLabel('Model', { exact: true }).selectOption(B);
    await card.getByLabel('Pinned').check();
    await card.getByRole('button', { name: 'Save', exact: true }).click();
    await card.locator(`.placement-own li[data-model="${B}"]`, { hasText: `${B}: pinned` }).waitFor();
    // The supervisor's next report marks B pinned; the preview uses it.
    await memoryBar().locator(`.memory-legend li[data-model="${B}"]`, { hasText: 'pinned' }).waitFor();
    await page.getByRole('button', { name: `Load ${A}`, exact: true }).click();
    const dialog = page.locator('dialog.load-preview');
    await dialog.waitFor();
    expect(await dialog.getAttribute('data-kind')).toBe('refused');
    expect(await dialog.locator('.load-preview-text').textContent()).toMatch(new RegExp(`^${A} cannot be loaded: ${A} needs .* free of a 26 MiB budget; held by ${B} \\(.*, pinned\\)\\.$`));
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect(await badge(A).textContent()).toBe('unloaded');
    expect(problems).toEqual([]);
  });
});
