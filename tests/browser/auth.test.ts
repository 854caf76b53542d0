/**
 * Sign-in as a user sees it: the gateway in AUTH_MODE=local starts without users and logs a
 * one-time setup token; in Debian's Chromium (behind real nginx, under a sub path, in front of the
 * real stack) the first admin is created with it, signs out and in again, adds a viewer on the
 * Users page and finds those actions on the Audit page. The viewer then signs in in a browser of
 * their own and sees no control their role cannot use, until the admin makes them an operator
 * (the gateway closes their socket; the app asks for the session again and reconnects with the
 * new role). Last, the admin changes their own password. Screenshots go to
 * artifacts/screenshots/auth-*.png.
 *
 * The tests run in order and build on each other, like one afternoon of an admin and a viewer.
 *
 *   npx vitest run --project integration tests/browser/auth.test.ts
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPO_ROOT, waitFor } from '../src/harness/index.js';
import { launchChromium, type ChromiumSession } from './support/chromium.js';
import { WebStack } from './support/web-stack.js';

const BASE_PATH = '/llama/';
const NODE_ID = 'auth-node';
const MODEL = 'tiny-llama-a';
const SCREENSHOTS = join(REPO_ROOT, 'artifacts', 'screenshots');
/** Longest wait for something on screen that needs no new work from llama-server. */
const UI_MS = 15_000;
/** Longest wait for the supervisor to report a running llama-server on a 2-core machine. */
const SERVICES_MS = 60_000;

const ADMIN = { username: 'admin', password: 'correct horse battery staple' };
const VIEWER = { username: 'vera', password: 'viewer password 42' };

/** Chromium reports every failed fetch as a console error; the 401 of a wrong password is expected. */
const EXPECTED_CONSOLE = /Failed to load resource: the server responded with a status of 401/;

describe('sign-in, users and audit in Chromium, behind nginx, against the real stack', () => {
  let stack: WebStack | undefined;
  let adminBrowser: ChromiumSession | undefined;
  let viewerBrowser: ChromiumSession | undefined;
  let admin: Page;
  let viewer: Page;
  /** Uncaught exceptions and console errors in either page. */
  const problems: string[] = [];

  const url = (path = ''): string => `${stack?.url ?? ''}${path}`;
  const screenshot = async (page: Page, name: string): Promise<void> => {
    await page.screenshot({ path: join(SCREENSHOTS, `auth-${name}.png`), fullPage: true });
  };
  const watch = (page: Page, who: string): void => {
    page.setDefaultTimeout(UI_MS);
    page.on('pageerror', (error) => problems.push(`${who} pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !EXPECTED_CONSOLE.test(message.text())) {
        problems.push(`${who} console error: ${message.text()}`);
      }
    });
  };
  const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });
  const openFromNav = async (page: Page, title: string, path: string, pageId: string): Promise<void> => {
    await nav(page).getByRole('link', { name: title, exact: true }).click();
    await page.waitForURL(url(path));
    await page.locator(`[data-page="${pageId}"]`).waitFor({ state: 'visible' });
  };
  const connected = (page: Page): Promise<void> => page.locator('.connection[data-status="connected"]').waitFor();
  /** The user's menu in the top bar (a disclosure: <details> with an "Account" summary). */
  const account = (page: Page) => page.locator('.user-menu > summary[aria-label="Account"]');
  const signIn = async (page: Page, who: { username: string; password: string }): Promise<void> => {
    const form = page.locator('[data-page="sign-in"]');
    await form.waitFor();
    await page.getByLabel('User name').fill(who.username);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await WebStack.start({
      redisUrl: `${inject('redisUrl')}/7`,
      llamaServerBin: inject('llamaServerBin'),
      basePath: BASE_PATH,
      nodeId: NODE_ID,
      modelCount: 1,
      authMode: 'local',
    });
    adminBrowser = await launchChromium();
    admin = adminBrowser.context.pages()[0] ?? (await adminBrowser.context.newPage());
    watch(admin, 'admin');
  }, 180_000);

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && stack !== undefined) {
      console.error(`${task.name}: failed at ${admin?.url()}\n${stack.diagnostics()}`);
      const name = task.name.replace(/\W+/g, '-').slice(0, 50);
      await admin?.screenshot({ path: join(SCREENSHOTS, `failed-auth-admin-${name}.png`), fullPage: true }).catch(() => undefined);
      await viewer?.screenshot({ path: join(SCREENSHOTS, `failed-auth-viewer-${name}.png`), fullPage: true }).catch(() => undefined);
    }
  });

  afterAll(async () => {
    await viewerBrowser?.close().catch((err: unknown) => console.error(`closing the viewer's Chromium: ${(err as Error).message}`));
    await adminBrowser?.close().catch((err: unknown) => console.error(`closing the admin's Chromium: ${(err as Error).message}`));
    await stack?.stop();
  }, 60_000);

  it('creates the first admin with the setup token from the gateway log, then shows the app signed in', async () => {
    const token = await stack!.setupToken();
    expect(token).toMatch(/^[0-9a-f]{16,}$/);

    await admin.goto(url());
    await admin.getByRole('heading', { name: 'Create the first admin' }).waitFor();
    expect(await admin.locator('pre.command').textContent()).toBe('docker compose logs gateway | grep setup');
    // Nothing but the setup page: no socket, no navigation.
    expect(await nav(admin).count()).toBe(0);
    await screenshot(admin, 'setup');

    await admin.getByLabel('Setup token').fill(token);
    await admin.getByLabel('User name').fill(ADMIN.username);
    await admin.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    await admin.getByLabel('Password again').fill(ADMIN.password);
    await admin.getByRole('button', { name: 'Create the admin' }).click();

    await connected(admin);
    await expect.poll(() => admin.locator('.user-menu .user-name').textContent()).toBe(ADMIN.username);
    expect(await admin.locator('.user-menu .role').textContent()).toBe('admin');
    // Sign-in is on: no "anyone is an admin" banner.
    expect(await admin.locator('.auth-banner').isVisible()).toBe(false);
    await nav(admin).getByRole('link', { name: 'Users', exact: true }).waitFor();
    await nav(admin).getByRole('link', { name: 'Audit', exact: true }).waitFor();

    // The services report through the socket, which needs the session the browser now holds.
    const cookie = (await adminBrowser!.context.cookies()).find((c) => c.name === 'llamaproxy_session');
    expect(cookie?.httpOnly).toBe(true);
    await stack!.waitForServices({ cookie: `${cookie?.name}=${cookie?.value}` });
    await admin.locator('.llama-card .badge.state', { hasText: /^running$/ }).waitFor({ timeout: SERVICES_MS });
    await admin.getByRole('button', { name: 'Restart', exact: true }).waitFor();
    await screenshot(admin, 'admin-dashboard');
  });

  it('signs out to the sign-in page, refuses a wrong password with the generic message, and signs in again', async () => {
    await account(admin).click();
    await admin.getByRole('button', { name: 'Sign out', exact: true }).click();
    await admin.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await nav(admin).isVisible()).toBe(false);
    // The session is gone on the server too: a reload lands on the sign-in page again.
    await admin.reload();
    await admin.getByRole('heading', { name: 'Sign in' }).waitFor();

    await signIn(admin, { username: ADMIN.username, password: 'not the password' });
    await admin.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).first().waitFor();
    await screenshot(admin, 'sign-in-failed');

    await signIn(admin, ADMIN);
    await connected(admin);
    await expect.poll(() => admin.locator('.user-menu .user-name').textContent()).toBe(ADMIN.username);
  });

  it('adds a viewer on the Users page, beside the admin and their session', async () => {
    await openFromNav(admin, 'Users', 'users', 'users');
    const rows = admin.locator('.users-table tbody tr');
    await rows.filter({ hasText: ADMIN.username }).waitFor();
    await admin.locator('.sessions-table tbody tr', { has: admin.locator('.current:visible') }).waitFor();

    await admin.getByLabel('User name').fill(VIEWER.username);
    await admin.locator('#new-password').fill(VIEWER.password);
    await admin.locator('#new-role').selectOption('viewer');
    await admin.getByRole('button', { name: 'Add user' }).click();
    await admin.locator('.toasts', { hasText: `${VIEWER.username} added as viewer` }).waitFor();
    const row = rows.filter({ has: admin.locator('.username', { hasText: new RegExp(`^${VIEWER.username}$`) }) });
    await row.waitFor();
    expect(await row.getByRole('combobox', { name: `Role of ${VIEWER.username}` }).inputValue()).toBe('viewer');

    // The last admin cannot demote themselves: the server says no and the page says why.
    const me = rows.filter({ has: admin.locator('.username', { hasText: new RegExp(`^${ADMIN.username}$`) }) });
    admin.once('dialog', (dialog) => void dialog.accept());
    await me.getByRole('combobox', { name: `Role of ${ADMIN.username}` }).selectOption('viewer');
    await admin.locator('[data-page="users"] .problem', { hasText: 'The last admin cannot be removed, disabled or demoted.' }).first().waitFor();
    await waitFor(async () => (await me.getByRole('combobox').inputValue()) === 'admin', { timeoutMs: UI_MS, what: 'the admin role back in the picker' });
    await screenshot(admin, 'users');
  });

  it('lists those actions on the Audit page, filters them, and exports what is loaded as CSV', async () => {
    await openFromNav(admin, 'Audit', 'audit', 'audit');
    const rows = admin.locator('.audit-table tbody tr');
    const row = (event: string) => rows.filter({ has: admin.locator('.event-name', { hasText: new RegExp(`^${event}$`) }) });
    await row('users:create').filter({ hasText: VIEWER.username }).first().waitFor();
    for (const event of ['auth:setup', 'auth:sign-out', 'auth:sign-in', 'auth:sign-in-failed']) {
      await row(event).first().waitFor();
    }
    // Newest first: the viewer was created after the admin signed in again.
    const events = await rows.locator('.event-name').allTextContents();
    expect(events.indexOf('users:create')).toBeLessThan(events.indexOf('auth:setup'));
    await screenshot(admin, 'audit');

    await admin.getByLabel('Action').fill('users:');
    await admin.getByRole('button', { name: 'Apply' }).click();
    await waitFor(async () => (await rows.locator('.event-name').allTextContents()).every((e) => e.startsWith('users:')) && (await rows.count()) > 0, {
      timeoutMs: UI_MS,
      what: 'only users: records after filtering',
    });

    const [download] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^llamaproxy-audit-.*\.csv$/);
    const csv = readFileSync(await download.path(), 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('id,time,user,role,address,event,target,outcome,error,request,summary');
    expect(lines.length).toBe((await rows.count()) + 1);
    expect(csv).toContain('users:create');
    // The password of the new user is redacted in the record, so in the export too.
    expect(csv).not.toContain(VIEWER.password);
  });

  it('shows the viewer, in a browser of their own, no control their role cannot use', async () => {
    viewerBrowser = await launchChromium();
    viewer = viewerBrowser.context.pages()[0] ?? (await viewerBrowser.context.newPage());
    watch(viewer, 'viewer');
    await viewer.goto(url('models'));
    await signIn(viewer, VIEWER);
    await connected(viewer);
    await expect.poll(() => viewer.locator('.user-menu .role').textContent()).toBe('viewer');

    // The page asked for is the one shown after signing in; the model is listed without Load.
    await viewer.locator(`tr[data-id="${MODEL}"]`).waitFor();
    expect(await viewer.getByRole('button', { name: `Load ${MODEL}`, exact: true }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: 'Rescan directory' }).count()).toBe(0);
    // No admin pages in the navigation, nor by address.
    await nav(viewer).getByRole('link', { name: 'Models', exact: true }).waitFor();
    expect(await nav(viewer).getByRole('link', { name: 'Users', exact: true }).count()).toBe(0);
    expect(await nav(viewer).getByRole('link', { name: 'Audit', exact: true }).count()).toBe(0);
    await screenshot(viewer, 'viewer-models');

    await openFromNav(viewer, 'Dashboard', '', 'dashboard');
    await viewer.locator('.llama-card .badge.state', { hasText: /^running$/ }).waitFor();
    for (const name of ['Start', 'Stop', 'Restart']) {
      expect(await viewer.getByRole('button', { name, exact: true }).count(), name).toBe(0);
    }

    await openFromNav(viewer, 'Configuration', 'configuration', 'configuration');
    await viewer.locator('#cfg-modelsDir').waitFor();
    expect(await viewer.locator('#cfg-modelsDir').isDisabled()).toBe(true);
    expect(await viewer.getByRole('button', { name: 'Apply and restart' }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: 'Save and apply' }).count()).toBe(0);
    await viewer.getByText('Read only: changing the router settings needs the admin role.').waitFor();
    await screenshot(viewer, 'viewer-configuration');

    await openFromNav(viewer, 'Settings', 'settings', 'settings');
    expect(await viewer.getByRole('button', { name: 'Save preferences' }).count()).toBe(0);

    await openFromNav(viewer, 'Logs', 'logs', 'logs');
    expect(await viewer.getByRole('button', { name: 'Delete stored logs' }).count()).toBe(0);
    expect(await viewer.getByLabel('Source').locator('option[value="source:audit"]').count()).toBe(1);

    // The command palette offers no load, unload or llama-server command either.
    await viewer.keyboard.press('Control+k');
    const palette = viewer.getByRole('dialog', { name: 'Command palette' });
    await palette.waitFor();
    const titles = await palette.locator('.palette-title').allTextContents();
    expect(titles.filter((t) => /^(Load|Unload|Start|Stop|Restart) |^Rescan|Users|Audit/.test(t))).toEqual([]);
    await viewer.keyboard.press('Escape');

    await viewer.goto(url('users'));
    await connected(viewer);
    await viewer.getByRole('heading', { name: 'Not available to your role' }).waitFor();
  });

  it('gives the viewer the operator controls as soon as the admin changes the role, without a reload', async () => {
    await openFromNav(viewer, 'Models', 'models', 'models');
    await viewer.locator(`tr[data-id="${MODEL}"]`).waitFor();
    expect(await viewer.getByRole('button', { name: `Load ${MODEL}`, exact: true }).count()).toBe(0);

    await openFromNav(admin, 'Users', 'users', 'users');
    const row = admin.locator('.users-table tbody tr', { has: admin.locator('.username', { hasText: new RegExp(`^${VIEWER.username}$`) }) });
    await row.getByRole('combobox').selectOption('operator');
    await admin.locator('.toasts', { hasText: `${VIEWER.username} is now operator` }).waitFor();

    // The gateway closed the viewer's socket; their app asked for the session and reconnected.
    await expect.poll(() => viewer.locator('.user-menu .role').textContent(), { timeout: UI_MS }).toBe('operator');
    await viewer.getByRole('button', { name: `Load ${MODEL}`, exact: true }).waitFor();
    await viewer.getByRole('button', { name: 'Rescan directory' }).waitFor();
    await connected(viewer);
    await screenshot(viewer, 'operator-models');
  });

  it('changes the admin’s own password from the account menu; the new one signs in', async () => {
    const next = 'a brand new admin password';
    await account(admin).click();
    await admin.getByRole('button', { name: 'Change password' }).click();
    const dialog = admin.getByRole('dialog', { name: 'Change your password' });
    await dialog.getByLabel('Current password').fill(ADMIN.password);
    await dialog.getByLabel('New password', { exact: true }).fill(next);
    await dialog.getByLabel('New password again').fill(next);
    await dialog.getByRole('button', { name: 'Change password' }).click();
    await admin.locator('.toasts', { hasText: 'Password changed' }).waitFor();
    await dialog.waitFor({ state: 'hidden' });

    await account(admin).click();
    await admin.getByRole('button', { name: 'Sign out', exact: true }).click();
    await signIn(admin, ADMIN);
    await admin.getByRole('alert').filter({ hasText: 'Wrong user name or password.' }).first().waitFor();
    await signIn(admin, { username: ADMIN.username, password: next });
    await connected(admin);
    await expect.poll(() => admin.locator('.user-menu .user-name').textContent()).toBe(ADMIN.username);
  });

  it('raised no script error in either page', () => {
    expect(problems).toEqual([]);
  });
});
