// @vitest-environment happy-dom
import { DEFAULT_DASHBOARD_SETTINGS, DEFAULT_SERVER_CONFIG, EMPTY_PRESET } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildConfigFile } from '../../lib/config-file.js';
import { identity } from '../../test-support/fixtures.js';
import { pageContext } from '../../test-support/page-context.js';
import { TransferCard } from './transfer-card.js';

describe(TransferCard.name, () => {
  let sut: TransferCard | undefined;

  afterEach(() => {
    sut?.destroy();
    vi.unstubAllGlobals();
  });

  /** A card that has reviewed an export file while the documents were at config 3, preset 5, settings 7. */
  async function reviewed() {
    const page = pageContext(identity('admin'));
    page.ctx.store.set('revisions', { config: 3, preset: 5, settings: 7 });
    sut = new TransferCard(page.ctx).mount(document.body);
    const pick = sut.el.querySelector('[data-action="pick"]') as HTMLInputElement;
    const file = new File([JSON.stringify(buildConfigFile(DEFAULT_SERVER_CONFIG, DEFAULT_DASHBOARD_SETTINGS, EMPTY_PRESET))], 'export.json');
    Object.defineProperty(pick, 'files', { value: [file], configurable: true });
    pick.dispatchEvent(new Event('change', { bubbles: true }));
    await vi.waitFor(() => expect(sut?.el.querySelector('[data-action="import"]')).not.toBeNull());
    // Someone else saves the preferences after the review was shown.
    page.ctx.store.set('revisions', { config: 3, preset: 5, settings: 8 });
    (sut.el.querySelector('[data-action="import"]') as HTMLButtonElement).click();
    return page;
  }

  const conflict = { code: 'CONFLICT' as const, message: 'changed meanwhile', current: { document: 'settings', revision: 8, value: DEFAULT_DASHBOARD_SETTINGS } };

  it('names the revisions the review showed, and stops when the user keeps the newer preferences', async () => {
    vi.stubGlobal('confirm', () => false);
    const { transport, toasts } = await reviewed();
    await vi.waitFor(() => expect(transport.sent.map((s) => s.event)).toContain('settings:update'));
    expect(transport.sent.find((s) => s.event === 'settings:update')?.payload).toMatchObject({ revision: 7 });
    transport.fail('settings:update', conflict);
    await vi.waitFor(() => expect(toasts.error).toHaveBeenCalled());
    expect(transport.sent.filter((s) => s.event !== 'snapshot:get').map((s) => s.event)).toEqual(['settings:update']);
    expect(sut?.el.querySelector('.import-status')?.textContent).toBe('Import stopped; see the message above.');
  });

  it('overwrites under the current revision when the user says so, then sends the preset under its reviewed revision', async () => {
    vi.stubGlobal('confirm', () => true);
    const { transport } = await reviewed();
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('settings:update'));
    transport.fail('settings:update', conflict);
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('settings:update'));
    expect(transport.sent.filter((s) => s.event === 'settings:update').map((s) => (s.payload as { revision: number }).revision)).toEqual([7, 8]);
    transport.answer('settings:update', { settings: DEFAULT_DASHBOARD_SETTINGS, revision: 9 });
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('presets:update'));
    expect(transport.sent.find((s) => s.event === 'presets:update')?.payload).toEqual({ preset: EMPTY_PRESET, revision: 5 });
  });
});
