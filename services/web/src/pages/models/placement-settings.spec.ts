// @vitest-environment happy-dom
import type { Role } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { identity, model } from '../../test-support/fixtures.js';
import { pageContext } from '../../test-support/page-context.js';
import { PlacementSettingsCard } from './placement-settings.js';

const DOC = { settings: { defaultTtlSeconds: 600, models: { b: { pinned: true, ttlSeconds: null, loadOnStartup: true } } }, revision: 3 };

describe(PlacementSettingsCard.name, () => {
  let sut: PlacementSettingsCard | undefined;
  afterEach(() => sut?.destroy());

  const mount = (role: Role) => {
    const page = pageContext(identity(role));
    page.ctx.store.set('models', [model('a'), model('b')]);
    page.ctx.store.set('placement', DOC);
    sut = new PlacementSettingsCard(page.ctx).mount(document.body);
    const q = <T extends HTMLElement>(selector: string): T => sut!.el.querySelector<T>(selector)!;
    return { ...page, q };
  };

  it('shows the stored settings: the default TTL, the chosen model\'s, and every model with its own', () => {
    const { q } = mount('viewer');
    expect(q<HTMLInputElement>('#placement-default-ttl').value).toBe('600');
    expect([...sut!.el.querySelectorAll('.placement-own li')].map((li) => li.textContent)).toEqual(['b: pinned, loads on start-up']);
    const select = q<HTMLSelectElement>('#placement-model');
    select.value = 'b';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    expect(q<HTMLInputElement>('#placement-pinned').checked).toBe(true);
    expect(q<HTMLInputElement>('#placement-startup').checked).toBe(true);
    expect(q<HTMLInputElement>('#placement-ttl').value).toBe('');
  });

  it('is read only for a viewer and editable for an operator', () => {
    const viewer = mount('viewer');
    expect([...sut!.el.querySelectorAll('fieldset')].every((f) => (f).disabled)).toBe(true);
    expect(viewer.q('.read-only-note').hidden).toBe(false);
    sut?.destroy();
    mount('operator');
    expect([...sut!.el.querySelectorAll('fieldset')].some((f) => (f).disabled)).toBe(false);
  });

  it('saves a model\'s settings under the document\'s revision, and refuses a bad TTL before sending', async () => {
    const { q, transport, ctx, toasts } = mount('operator');
    const select = q<HTMLSelectElement>('#placement-model');
    select.value = 'a';
    select.dispatchEvent(new Event('change', { bubbles: true }));
    q<HTMLInputElement>('#placement-ttl').value = '-5';
    q('[data-action="save-model"]').click();
    expect(q('.form-problem').textContent).toBe('The idle TTL is a whole number of seconds (0 = never).');
    expect(transport.sent.filter((s) => s.event === 'placement:update')).toEqual([]);

    q<HTMLInputElement>('#placement-ttl').value = '120';
    q<HTMLInputElement>('#placement-pinned').checked = true;
    q('[data-action="save-model"]').click();
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('placement:update'));
    expect(transport.sent.at(-1)).toEqual({ event: 'placement:update', payload: { models: { a: { pinned: true, ttlSeconds: 120, loadOnStartup: false } }, revision: 3 } });
    const saved = { settings: { ...DOC.settings, models: { ...DOC.settings.models, a: { pinned: true, ttlSeconds: 120, loadOnStartup: false } } }, revision: 4 };
    transport.answer('placement:update', saved);
    await vi.waitFor(() => expect(toasts.success).toHaveBeenCalledWith('Placement of a saved'));
    expect(ctx.store.get('placement')).toEqual(saved);
    expect([...sut!.el.querySelectorAll('.placement-own li')].map((li) => li.textContent)).toEqual(['b: pinned, loads on start-up', 'a: pinned']);
  });
});
