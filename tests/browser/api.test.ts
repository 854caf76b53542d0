/**
 * The `/v1` endpoint's pages as a user sees them: Debian's Chromium (playwright-core) opens the
 * built web app behind real nginx in front of the real stack (supervisor with a real llama-server
 * over tiny generated models, gateway, metrics collector, Redis). The Playground streams an answer
 * from llama-server through the gateway's `/v1` with the session; an Activity page open in another
 * tab shows that request as it is recorded, without a reload (the page no longer polls: only the
 * gateway's `activity:new` push can bring it), and its usage chart then counts it.
 *
 *   npx vitest run --project integration tests/browser/api.test.ts
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, waitFor } from '../src/harness/index.js';
import { launchChromium, type ChromiumSession } from './support/chromium.js';
import { WebStack } from './support/web-stack.js';

const MODEL = 'tiny-llama-a';
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
const UI_MS = 15_000;
/** Longest wait for a model to load on a 2-core machine. */
const LOAD_MS = 60_000;
/** A 1×1 PNG. */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('the Playground and the Activity page in Chromium, against the real stack', () => {
  let stack: WebStack | undefined;
  let chromium: ChromiumSession | undefined;
  let playground: Page;
  let activity: Page;
  const problems: string[] = [];

  const url = (path = ''): string => `${stack?.url ?? ''}${path}`;
  const watch = (page: Page, name: string): void => {
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (error) => problems.push(`${name} pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        problems.push(`${name} console error: ${message.text()}`);
      }
    });
  };
  const open = async (page: Page, path: string, pageId: string): Promise<void> => {
    await page.goto(url(path));
    await page.locator('.connection[data-status="connected"]').waitFor();
    await page.locator(`[data-page="${pageId}"]`).waitFor({ state: 'visible' });
  };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await WebStack.start({
      redisUrl: `${inject('redisUrl')}/14`,
      llamaServerBin: inject('llamaServerBin'),
      basePath: '/',
      nodeId: 'api-browser-node',
      modelCount: 1,
    });
    chromium = await launchChromium();
    playground = chromium.context.pages()[0] ?? (await chromium.context.newPage());
    watch(playground, 'playground');
    activity = await chromium.context.newPage();
    watch(activity, 'activity');
  }, 180_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && stack !== undefined) {
      console.error(`${task.name}: failed\n${stack.diagnostics()}`);
      for (const [name, page] of [['playground', playground], ['activity', activity]] as const) {
        await page?.screenshot({ path: join(SCREENSHOTS, `failed-api-${name}.png`), fullPage: true }).catch(() => undefined);
      }
    }
  });

  afterAll(async () => {
    await chromium?.close().catch((err: unknown) => console.error(`closing Chromium: ${(err as Error).message}`));
    await stack?.stop();
  }, 60_000);

  it('streams an answer from llama-server in the Playground, and the open Activity page shows the request live', async () => {
    await open(activity, 'activity', 'activity');
    await activity.locator('.empty', { hasText: 'No request yet' }).waitFor();
    expect(await activity.locator('.activity-table tbody tr').count()).toBe(0);

    await open(playground, 'playground', 'playground');
    await playground.getByLabel('Model', { exact: true }).selectOption(MODEL);
    const state = playground.locator('.state-text');
    if ((await state.textContent()) !== 'State: loaded') {
      await playground.locator('[data-action="load"]').click();
      await state.filter({ hasText: /^State: loaded$/ }).waitFor({ timeout: LOAD_MS });
    }
    await playground.getByLabel('Temperature').fill('0');
    await playground.getByLabel('Max tokens').fill('24');
    await playground.getByLabel('Prompt', { exact: true }).fill('Say hello');
    await playground.getByRole('button', { name: 'Send' }).click();
    const output = playground.locator('.output');
    await waitFor(async () => ((await output.textContent()) ?? '').length > 0, { timeoutMs: UI_MS, what: 'streamed text in the answer' });
    // Done: Send is enabled again, Stop is not, no problem shown, a speed was measured.
    await playground.getByRole('button', { name: 'Send' }).and(playground.locator(':enabled')).waitFor();
    expect(await playground.getByRole('button', { name: 'Stop' }).isDisabled()).toBe(true);
    expect(await playground.locator('.problem').textContent()).toBe('');
    expect(await playground.locator('.speed').textContent()).toMatch(/\d/);
    await playground.screenshot({ path: join(SCREENSHOTS, 'playground.png'), fullPage: true });

    // The other tab was not reloaded and asks nothing on a timer: the row arrives by push.
    const row = activity.locator('.activity-table tbody tr').first();
    await row.locator('.model', { hasText: MODEL }).waitFor();
    expect(await row.locator('.status').textContent()).toBe('200');
    expect(await row.locator('.endpoint').textContent()).toBe('/chat/completions (stream)');
    expect(await row.locator('.tokens').textContent()).toMatch(/^\d+ → \d+$/);
    expect(await activity.locator('.activity-table tbody tr').count()).toBe(1);
    // The usage totals follow: a bar for today, stacked by model.
    await activity.locator('.usage-chart-legend li', { hasText: MODEL }).waitFor();
    expect(await activity.locator('.usage-bar').count()).toBe(1);
    expect(await activity.locator('.usage-body tr').first().locator('td').nth(3).textContent()).toBe(MODEL);
    await activity.screenshot({ path: join(SCREENSHOTS, 'activity.png'), fullPage: true });
  });

  it('sends an image with the prompt; llama-server refuses it for a model without a projector, and both pages say so', async () => {
    await playground.locator('#pg-image').setInputFiles({ name: 'pixel.png', mimeType: 'image/png', buffer: Buffer.from(PNG_1X1, 'base64') });
    await playground.locator('.pg-image-preview').waitFor();
    expect(await playground.locator('.pg-image-preview').getAttribute('src')).toBe(`data:image/png;base64,${PNG_1X1}`);
    expect(await playground.locator('.pg-image-note').textContent()).toContain('no multimodal projector');
    const rows = activity.locator('.activity-table tbody tr');
    const before = await rows.count();
    await playground.getByRole('button', { name: 'Send' }).click();
    // The refusal is llama-server's own (the image reached it), passed through, and recorded.
    await playground.locator('.problem').filter({ hasText: 'image input is not supported' }).waitFor();
    // Chromium logs the refused fetch (a 500 from llama-server) as a console error: expected here, once.
    const refused = problems.findIndex((p) => p.startsWith('playground console error: Failed to load resource') && p.includes('500'));
    expect(refused).toBeGreaterThanOrEqual(0);
    problems.splice(refused, 1);
    await waitFor(async () => (await rows.count()) === before + 1, { timeoutMs: UI_MS, what: 'the refused request in the Activity page' });
    expect(Number(await rows.first().locator('.status').textContent())).toBeGreaterThanOrEqual(400);
    await playground.screenshot({ path: join(SCREENSHOTS, 'playground-image.png'), fullPage: true });
    await playground.getByRole('button', { name: 'Remove image' }).click();
    await playground.locator('.pg-image-preview').waitFor({ state: 'hidden' });
  });

  it('raised no script error in either page', () => {
    expect(problems).toEqual([]);
  });
});
