// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { auditEntry, identity } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { AuditPage } from './audit-page.js';

const shownIds = (page: AuditPage) => [...page.el.querySelectorAll<HTMLElement>('tbody tr')].map((tr) => Number(tr.dataset.id));
const older = (page: AuditPage) => page.el.querySelector('[data-action="older"]') as HTMLButtonElement;

describe(AuditPage.name, () => {
  let sut: AuditPage | undefined;

  afterEach(() => {
    sut?.destroy();
  });

  it('shows the newest page, then pages back with beforeId until there is no more', async () => {
    const { ctx, transport } = pageContext(identity('admin'));
    sut = new AuditPage(ctx).mount(document.body);

    expect(transport.sent).toEqual([{ event: 'audit:query', payload: { limit: 100 } }]);
    transport.answer('audit:query', { entries: [auditEntry(5), auditEntry(4), auditEntry(3)], hasMore: true });
    await vi.waitFor(() => expect(shownIds(sut as AuditPage)).toEqual([5, 4, 3]));
    expect(older(sut).hidden).toBe(false);

    older(sut).click();
    expect(transport.sent.at(-1)).toEqual({ event: 'audit:query', payload: { limit: 100, beforeId: 3 } });
    transport.answer('audit:query', { entries: [auditEntry(2), auditEntry(1)], hasMore: false });
    await vi.waitFor(() => expect(shownIds(sut as AuditPage)).toEqual([5, 4, 3, 2, 1]));
    expect(older(sut).hidden).toBe(true);
    expect(sut.el.querySelector('.count')?.textContent).toBe('5 loaded');
  });

  it('asks again with the filters, and drops an answer to an older filter', async () => {
    const { ctx, transport } = pageContext(identity('admin'));
    sut = new AuditPage(ctx).mount(document.body);
    const outcome = sut.el.querySelector('#audit-outcome') as HTMLSelectElement;
    const user = sut.el.querySelector('#audit-user') as HTMLInputElement;
    user.value = 'bob';
    outcome.value = 'denied';
    outcome.dispatchEvent(new Event('change', { bubbles: true }));

    expect(transport.sent.at(-1)).toEqual({ event: 'audit:query', payload: { limit: 100, username: 'bob', outcome: 'denied' } });
    transport.answer('audit:query', { entries: [auditEntry(9)], hasMore: false });
    transport.answer('audit:query', { entries: [auditEntry(7, { username: 'bob', outcome: 'denied' })], hasMore: false });
    await vi.waitFor(() => expect(shownIds(sut as AuditPage)).toEqual([7]));
    expect(sut.el.querySelector('tbody .outcome')?.getAttribute('data-tone')).toBe('busy');
  });

  it('shows the reason when the gateway refuses', async () => {
    const { ctx, transport } = pageContext(identity('admin'));
    sut = new AuditPage(ctx).mount(document.body);
    transport.fail('audit:query', { code: 'FORBIDDEN', message: 'admin only' });
    await vi.waitFor(() => expect(sut?.el.querySelector('.problem')?.textContent).toBe('Loading the audit log: Your role does not allow this.'));
  });
});
