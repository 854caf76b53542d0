// @vitest-environment happy-dom
import type { ApiKeyView } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { identity } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { ApiKeysPage } from './api-keys-page.js';

const key = (id: string, patch: Partial<ApiKeyView> = {}): ApiKeyView => ({
  id, name: `key ${id}`, prefix: 'lap-abcdefgh', userId: 'id-viewer-user', username: 'viewer-user', models: null, expiresAt: null,
  limits: { requestsPerMinute: null, tokensPerMinute: null }, createdAt: 1, lastUsedAt: null, revokedAt: null, source: 'database', ...patch,
});

describe(ApiKeysPage.name, () => {
  let sut: ApiKeysPage | undefined;

  afterEach(() => {
    sut?.destroy();
    vi.unstubAllGlobals();
  });

  async function open(role: 'viewer' | 'operator', selfService: boolean, keys: ApiKeyView[] = []) {
    const page = pageContext(identity(role));
    sut = new ApiKeysPage(page.ctx).mount(document.body);
    await vi.waitFor(() => expect(page.transport.pendingEvents()).toContain('apikeys:list'));
    page.transport.answer('apikeys:list', { keys, selfService });
    await vi.waitFor(() => expect(sut?.el.querySelector('.empty')?.textContent).not.toBe('Loading…'));
    return page;
  }

  const form = (): HTMLFormElement => sut?.el.querySelector('.api-key-form') as HTMLFormElement;

  it('tells a viewer how keys are had when self-service is off, and offers no create or revoke', async () => {
    await open('viewer', false, [key('k1')]);
    expect(form().hidden).toBe(true);
    expect((sut?.el.querySelector('.keys-note') as HTMLElement).hidden).toBe(false);
    expect(sut?.el.querySelector('.api-keys-table')?.classList.contains('read-only')).toBe(true);
  });

  it('lets a viewer create and revoke their own keys through the own-records events when self-service is on', async () => {
    vi.stubGlobal('confirm', () => true);
    const { transport } = await open('viewer', true, [key('k1')]);
    expect(form().hidden).toBe(false);
    (form().elements.namedItem('name') as HTMLInputElement).value = 'laptop';
    form().dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('apikeys:own:create'));
    transport.answer('apikeys:own:create', { key: key('k2', { name: 'laptop' }), secret: 'lap-secret' });
    await vi.waitFor(() => expect(sut?.el.querySelector('.secret')?.textContent).toBe('lap-secret'));
    (sut?.el.querySelector('tr[data-id="k1"] [data-action="revoke"]') as HTMLElement).click();
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('apikeys:own:revoke'));
    expect(transport.sent.at(-1)?.payload).toEqual({ keyId: 'k1' });
  });

  it('keeps operators on the operators\' events', async () => {
    const { transport } = await open('operator', true);
    (form().elements.namedItem('name') as HTMLInputElement).value = 'ci';
    form().dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('apikeys:create'));
  });
});
