/**
 * The dashboard as a user sees it: Debian's Chromium (driven by playwright-core) opens the built
 * web app behind real nginx, mounted under a sub path, in front of the real stack started as
 * processes (supervisor with a real llama-server over tiny generated models, gateway, metrics
 * collector, Redis). Every page is opened and photographed to artifacts/screenshots/<page>.png.
 *
 * The tests run in order and build on each other (the model loaded on the Models page is the one
 * whose log line and chart the later pages show), like one user's session.
 *
 *   npx vitest run --project integration tests/browser
 *
 * Needs Debian's chromium and nginx (apt-get install -y chromium nginx); services/web/dist is
 * built first when missing or older than its sources. On a failure the test's screenshot
 * (artifacts/screenshots/failed-*.png) and the services' last lines are kept.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, waitFor } from '../src/harness/index.js';
import { launchChromium, type ChromiumSession } from './support/chromium.js';
import { WebStack } from './support/web-stack.js';

const BASE_PATH = '/llama/';
const NODE_ID = 'browser-node';
const MODEL = 'tiny-llama-a';
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
/** Longest wait for something on screen that needs no new work from llama-server. */
const UI_MS = 15_000;
/** Longest wait for a model to load on a 2-core machine. */
const LOAD_MS = 60_000;

/**
 * Runs in the page, on a chart's canvas: its size on screen, and how many of its pixels have the
 * colour of a theme token (the colour uPlot strokes that series with). Axes and grid use other
 * tokens, so a count above a few dozen means the line itself was drawn. One call, so a chart
 * rebuilt in between (the page replans its charts when samples bring new series) cannot mix.
 */
function chartDrawing(el: unknown, token: string): { width: number; height: number; pixels: number } {
  interface Canvas {
    width: number;
    height: number;
    getBoundingClientRect(): { width: number; height: number };
    getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } | null;
    ownerDocument: {
      body: { append(node: unknown): void };
      createElement(tag: 'span'): { style: { color: string }; remove(): void };
      defaultView: { getComputedStyle(node: unknown): { color: string } } | null;
    };
  }
  const canvas = el as Canvas;
  const doc = canvas.ownerDocument;
  const probe = doc.createElement('span');
  probe.style.color = `var(${token})`;
  doc.body.append(probe);
  const [r = 0, g = 0, b = 0] = (doc.defaultView?.getComputedStyle(probe).color.match(/\d+/g) ?? []).map(Number);
  probe.remove();
  const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
  let pixels = 0;
  for (let i = 0; data !== undefined && i + 3 < data.length; i += 4) {
    const distance = Math.abs((data[i] ?? 0) - r) + Math.abs((data[i + 1] ?? 0) - g) + Math.abs((data[i + 2] ?? 0) - b);
    if ((data[i + 3] ?? 0) > 200 && distance < 60) {
      pixels++;
    }
  }
  const { width, height } = canvas.getBoundingClientRect();
  return { width, height, pixels };
}

/** Waits until the element is laid out with a non-zero size. */
async function waitForSize(locator: Locator, what: string): Promise<void> {
  await waitFor(
    async () => {
      const box = await locator.boundingBox({ timeout: UI_MS });
      return box !== null && box.width > 0 && box.height > 0;
    },
    { timeoutMs: UI_MS, what: `${what} with a non-zero size` },
  );
}

describe('the dashboard in Chromium, behind nginx, against the real stack', () => {
  let stack: WebStack | undefined;
  let chromium: ChromiumSession | undefined;
  let page: Page;
  /** Uncaught exceptions and console errors in the page. */
  const problems: string[] = [];

  const url = (path = ''): string => `${stack?.url ?? ''}${path}`;
  const screenshot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  };
  /** Opens a page from the side navigation, as a user would, and waits until it has rendered. */
  const openFromNav = async (title: string, path: string, pageId: string): Promise<void> => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: title, exact: true }).click();
    await page.waitForURL(url(path), { timeout: UI_MS });
    await page.locator(`[data-page="${pageId}"]`).waitFor({ state: 'visible', timeout: UI_MS });
    await page.locator('.page-title', { hasText: title }).waitFor({ timeout: UI_MS });
  };
  const connected = (): Promise<void> => page.locator('.connection[data-status="connected"]').waitFor({ timeout: UI_MS });

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await WebStack.start({
      redisUrl: `${inject('redisUrl')}/6`,
      llamaServerBin: inject('llamaServerBin'),
      basePath: BASE_PATH,
      nodeId: NODE_ID,
      modelCount: 2,
    });
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
      await page?.screenshot({ path: join(SCREENSHOTS, `failed-${task.name.replace(/\W+/g, '-').slice(0, 60)}.png`), fullPage: true }).catch(() => undefined);
    }
  });

  afterAll(async () => {
    await chromium?.close().catch((err: unknown) => console.error(`closing Chromium: ${(err as Error).message}`));
    await stack?.stop();
  }, 60_000);

  it('opens the dashboard under the sub path: connected, llama-server running, live figures with drawn sparklines', async () => {
    await page.goto(url());
    expect(await page.locator('base').getAttribute('href')).toBe(BASE_PATH);
    await connected();
    // The stack runs with AUTH_MODE=none: the shell says so on every page.
    await page.getByRole('note').filter({ hasText: 'Sign-in is off (AUTH_MODE=none): anyone who can reach this page is an admin.' }).waitFor();
    const card = page.locator('.llama-card');
    await card.locator('.badge.state', { hasText: /^running$/ }).waitFor();
    expect(await card.locator('.node').textContent()).toBe(NODE_ID);

    const cpu = page.locator('.stat', { has: page.getByRole('heading', { name: 'CPU', exact: true }) });
    await cpu.locator('.stat-value', { hasText: /\d/ }).waitFor();
    expect(await cpu.locator('.stat-detail').textContent()).toMatch(/^load /);
    // A sparkline is drawn once it has two samples to join.
    const line = cpu.locator('polyline.sparkline-line');
    await waitFor(async () => ((await line.getAttribute('points')) ?? '').trim().split(/\s+/).length >= 2, { timeoutMs: UI_MS, what: 'a CPU sparkline with two points' });
    await waitForSize(cpu.getByRole('img', { name: 'CPU history' }), 'the CPU sparkline');
    await screenshot('dashboard');
  });

  it('loads a model from the Models page: its status reaches loaded, and the dashboard lists it', async () => {
    await openFromNav('Models', 'models', 'models');
    const rows = page.locator('.models-table tbody tr');
    await rows.nth(1).waitFor();
    expect(await rows.locator('.id').allTextContents()).toEqual(['tiny-llama-a', 'tiny-llama-b']);
    const row = page.locator(`tr[data-id="${MODEL}"]`);
    const badge = row.locator('.status .badge');
    expect(await badge.textContent()).not.toBe('loaded');

    await page.getByRole('button', { name: `Load ${MODEL}`, exact: true }).click();
    await badge.filter({ hasText: /^loaded$/ }).waitFor({ timeout: LOAD_MS });
    await page.getByRole('button', { name: `Unload ${MODEL}`, exact: true }).waitFor();
    expect(await page.locator('tr[data-id="tiny-llama-b"] .status .badge').textContent()).not.toBe('loaded');
    await screenshot('models');

    // The dashboard lists it among the loaded models.
    await openFromNav('Dashboard', '', 'dashboard');
    const loaded = page.locator('.loaded-model', { has: page.locator('.name', { hasText: MODEL }) });
    await loaded.locator('.badge', { hasText: /^loaded$/ }).waitFor();
    await screenshot('dashboard-model-loaded');
  });

  it('draws the uPlot charts on the Monitoring page from stored and live samples', async () => {
    await openFromNav('Monitoring', 'monitoring', 'monitoring');
    const chart = page.locator('.chart-card', { has: page.getByRole('heading', { name: 'CPU', exact: true }) });
    await page.locator('.resolution', { hasText: 'every sample · live' }).waitFor();
    await chart.locator('.empty').waitFor({ state: 'hidden' });
    await waitFor(
      async () => {
        const d = await chart.locator('canvas').evaluate(chartDrawing, '--chart-1');
        return d.width > 0 && d.height > 0 && d.pixels > 30;
      },
      { timeoutMs: UI_MS, what: 'the CPU line drawn on a laid-out canvas' },
    );
    // The loaded model gets a line in the inference charts.
    const generation = page.locator('.chart-card', { has: page.getByRole('heading', { name: 'Generation speed', exact: true }) });
    await generation.locator('.u-legend', { hasText: MODEL }).waitFor();
    await screenshot('monitoring');
  });

  it('shows stored log lines and a new one appearing live on the Logs page', async () => {
    await openFromNav('Logs', 'logs', 'logs');
    const lines = page.getByRole('log', { name: 'Log entries' }).locator('.log-line');
    await lines.filter({ hasText: `load requested: ${MODEL}` }).first().waitFor();

    const rescan = lines.filter({ hasText: 'rescan of the models directory requested' });
    expect(await rescan.count()).toBe(0);
    // An action taken elsewhere in the app (the command palette) shows up in the open log.
    await page.keyboard.press('Control+k');
    const palette = page.getByRole('dialog', { name: 'Command palette' });
    await palette.waitFor();
    await palette.locator('.palette-input').fill('Rescan the models directory');
    await page.keyboard.press('Enter');
    await rescan.first().waitFor();
    expect(await rescan.first().locator('.log-source').textContent()).toBe('gateway');
    await screenshot('logs');
  });

  it("shows the running server's configuration on the Configuration page", async () => {
    await openFromNav('Configuration', 'configuration', 'configuration');
    const modelsDir = page.locator('#cfg-modelsDir');
    await modelsDir.waitFor();
    await waitFor(async () => (await modelsDir.inputValue()) === stack?.modelsDir, { timeoutMs: UI_MS, what: 'the models directory in the form' });
    expect(await page.locator('#cfg-ctxSize').inputValue()).toBe('512');
    // llama-server's --help was read by the supervisor, so preset keys are checked.
    await page.locator('.catalogue-note').waitFor({ state: 'hidden' });
    await screenshot('configuration');
  });

  it('saves preferences on the server: the dark theme and the metrics interval are still there after a reload', async () => {
    await openFromNav('Settings', 'settings', 'settings');
    const theme = page.getByLabel('Theme', { exact: true });
    const interval = page.getByLabel('Metrics interval (seconds)');
    await waitFor(async () => (await interval.inputValue()) === '2', { timeoutMs: UI_MS, what: 'the stored settings in the form' });
    await theme.selectOption('dark');
    await interval.fill('3');
    await page.getByRole('button', { name: 'Save preferences' }).click();
    await page.locator('.toasts', { hasText: 'Preferences saved' }).waitFor();
    await page.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
    // The gateway passed the new interval on to the collector.
    await stack?.metrics?.waitForLine(/sampling interval changed/, UI_MS);

    // Without the browser's cached theme, only the server can bring the choice back.
    await page.evaluate('localStorage.clear()');
    await page.reload();
    await connected();
    await waitFor(async () => (await interval.inputValue()) === '3', { timeoutMs: UI_MS, what: 'the saved interval after the reload' });
    expect(await theme.inputValue()).toBe('dark');
    await page.locator('html[data-theme="dark"]').waitFor({ state: 'attached' });
    await screenshot('settings');
  });

  it('raised no script error in the page', () => {
    expect(problems).toEqual([]);
  });
});
