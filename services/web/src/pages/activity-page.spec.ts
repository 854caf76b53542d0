// @vitest-environment happy-dom
import type { ActivityRecord, UsageRow } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { identity } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { ActivityPage } from './activity-page.js';

const record = (id: number, extra: Partial<ActivityRecord> = {}): ActivityRecord => ({
  id, ts: 1_700_000_000_000 + id, keyId: 'k1', keyName: 'ci', userId: 'u1', username: 'ann', model: 'tiny-a', endpoint: '/chat/completions', status: 200,
  stream: true, promptTokens: 3, cachedTokens: 0, completionTokens: 5, ttftMs: 12, tokensPerSec: 100, durationMs: 50, address: '::1', error: null, ...extra,
});
const usage = (day: string, model: string, tokens: number): UsageRow => ({
  day, keyId: 'k1', keyName: 'ci', userId: 'u1', username: 'ann', model, requests: 1, errors: 0, promptTokens: tokens, completionTokens: 0,
});

describe(ActivityPage.name, () => {
  let sut: ActivityPage | undefined;

  afterEach(() => {
    sut?.destroy();
  });

  const ids = (): number[] => [...(sut?.el.querySelectorAll('.activity-table tbody tr') ?? [])].map((tr) => Number((tr as HTMLElement).dataset.id));

  async function open(role: 'viewer' | 'admin' = 'viewer') {
    const page = pageContext(identity(role));
    sut = new ActivityPage(page.ctx).mount(document.body);
    await vi.waitFor(() => expect(page.transport.pendingEvents()).toEqual(expect.arrayContaining(['activity:query', 'activity:usage'])));
    return page;
  }

  it('shows pushed requests live, newest first, and keeps those that arrive while loading', async () => {
    const { transport } = await open();
    transport.push('activity:new', { records: [record(3)] }, 0);
    transport.answer('activity:query', { records: [record(2), record(1)], hasMore: false });
    await vi.waitFor(() => expect(ids()).toEqual([3, 2, 1]));
    transport.push('activity:new', { records: [record(5), record(4)] }, 0);
    await vi.waitFor(() => expect(ids()).toEqual([5, 4, 3, 2, 1]));
    // The same record twice (a replayed push) is shown once.
    transport.push('activity:new', { records: [record(5)] }, 0);
    expect(ids()).toEqual([5, 4, 3, 2, 1]);
    // No polling: only the first load asked.
    expect(transport.sent.filter((s) => s.event === 'activity:query')).toHaveLength(1);
  });

  it('applies the filters to pushed requests', async () => {
    const { transport } = await open();
    transport.answer('activity:query', { records: [], hasMore: false });
    const status = sut?.el.querySelector('#activity-status') as HTMLSelectElement;
    status.value = 'error';
    status.dispatchEvent(new Event('change', { bubbles: true }));
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('activity:query'));
    expect(transport.sent.at(-1)?.payload).toMatchObject({ status: 'error' });
    transport.answer('activity:query', { records: [], hasMore: false });
    await vi.waitFor(() => expect(sut?.el.querySelector('.count')?.textContent).toBe('0 shown'));
    // An empty result under a filter says so, not that nothing was ever asked.
    expect(sut?.el.querySelector('.empty')?.textContent).toBe('No request matches these filters.');
    transport.push('activity:new', { records: [record(7, { status: 429 }), record(6)] }, 0);
    await vi.waitFor(() => expect(ids()).toEqual([7]));
  });

  it('asks for what it missed after a reconnect', async () => {
    const { transport } = await open();
    transport.answer('activity:query', { records: [record(9)], hasMore: false });
    await vi.waitFor(() => expect(ids()).toEqual([9]));
    transport.goOffline();
    transport.goOnline();
    await vi.waitFor(() => expect(transport.sent.at(-1)).toMatchObject({ event: 'activity:query', payload: { afterId: 9 } }));
  });

  it('charts usage per period, stacked by the chosen dimension, and reloads for another period', async () => {
    const { transport } = await open();
    transport.answer('activity:usage', { rows: [usage('2026-11-02', 'tiny-a', 10), usage('2026-11-01', 'tiny-b', 30)] });
    await vi.waitFor(() => expect(sut?.el.querySelectorAll('.usage-bar')).toHaveLength(2));
    expect([...(sut?.el.querySelectorAll('.usage-chart-legend li') ?? [])].map((li) => li.textContent)).toEqual(['tiny-b', 'tiny-a']);
    expect(sut?.el.querySelectorAll('.usage-body tr')).toHaveLength(2);
    const period = sut?.el.querySelector('#usage-period') as HTMLSelectElement;
    period.value = 'month';
    period.dispatchEvent(new Event('change', { bubbles: true }));
    await vi.waitFor(() => expect(transport.sent.at(-1)).toMatchObject({ event: 'activity:usage', payload: { period: 'month' } }));
  });

  it('asks a viewer nothing about the capture buffer and hides its controls', async () => {
    const { transport } = await open();
    expect(transport.sent.map((s) => s.event)).not.toContain('capture:get');
    expect((sut?.el.querySelector('.capture-form') as HTMLElement).hidden).toBe(true);
  });

  it('lets an admin turn capture on, and read a request\'s captured prompt and output on request', async () => {
    const { transport } = await open('admin');
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('capture:get'));
    transport.answer('capture:get', { settings: { enabled: false, maxRequests: 20, maxBytes: 65_536 }, stored: 0 });
    await vi.waitFor(() => expect(sut?.el.querySelector('.capture-state')?.textContent).toBe('Off'));
    expect((sut?.el.querySelector('#capture-max-kib') as HTMLInputElement).value).toBe('64');
    (sut?.el.querySelector('#capture-enabled') as HTMLSelectElement).value = 'true';
    (sut?.el.querySelector('.capture-form') as HTMLFormElement).dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('capture:update'));
    expect(transport.sent.at(-1)?.payload).toEqual({ enabled: true, maxRequests: 20, maxBytes: 65_536 });
    transport.answer('capture:update', { settings: { enabled: true, maxRequests: 20, maxBytes: 65_536 }, stored: 0 });
    await vi.waitFor(() => expect(sut?.el.querySelector('.capture-state')?.textContent).toBe('On: 0 kept'));

    transport.answer('activity:query', { records: [record(4)], hasMore: false });
    await vi.waitFor(() => expect(ids()).toEqual([4]));
    (sut?.el.querySelector('tr[data-id="4"]') as HTMLElement).click();
    (sut?.el.querySelector('[data-action="capture"]') as HTMLElement).click();
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('capture:view'));
    expect(transport.sent.at(-1)?.payload).toEqual({ activityId: 4 });
    transport.answer('capture:view', { capture: { activityId: 4, ts: 1, request: '{"messages":[{"role":"user","content":"<b>hi</b>"}]}', requestTruncated: false, response: 'data: hello', responseTruncated: true } });
    await vi.waitFor(() => expect((sut?.el.querySelector('.captured') as HTMLElement).hidden).toBe(false));
    // Shown as text, never as markup.
    expect(sut?.el.querySelector('.captured-request')?.textContent).toContain('<b>hi</b>');
    expect(sut?.el.querySelector('.captured-request b')).toBeNull();
    expect(sut?.el.querySelector('.captured-response')?.textContent).toBe('data: hello\n… (cut)');
  });
});
