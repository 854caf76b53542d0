// @vitest-environment happy-dom
import { DEFAULT_ALERT_RULES, type AlertRule, type ChannelView } from '@llamaproxy/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { identity } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { AlertsPage } from './alerts-page.js';

const channel = (id: string, patch: Partial<ChannelView> = {}): ChannelView => ({
  id,
  name: `Channel ${id}`,
  kind: 'ntfy',
  enabled: true,
  settings: { priority: 4 },
  secretsSet: ['url', 'token'],
  health: { status: 'ok', consecutiveFailures: 0, lastError: null, lastSuccessAt: null, lastFailureAt: null },
  createdAt: 1_700_000_000_000,
  updatedAt: 1_700_000_000_000,
  ...patch,
});

const custom: AlertRule = {
  id: 'custom-1',
  name: 'Hot CPU',
  enabled: true,
  forMs: 0,
  repeatMs: 0,
  channelIds: [],
  silencedUntil: null,
  params: { kind: 'custom', series: 'cpu.usagePct', comparison: 'above', threshold: 95 },
};

describe(AlertsPage.name, () => {
  let sut: AlertsPage | undefined;

  beforeEach(() => {
    vi.stubGlobal('confirm', () => true);
  });

  afterEach(() => {
    sut?.destroy();
    vi.unstubAllGlobals();
  });

  async function open(channels = [channel('c1'), channel('c2', { name: 'Mail', kind: 'email', settings: { host: 'mail', port: 587, secure: false, from: 'a@b.c', to: ['x@y.z'] }, secretsSet: [] })]) {
    const page = pageContext(identity('admin'));
    sut = new AlertsPage(page.ctx).mount(document.body);
    page.transport.answer('alerts:get', { channels, rules: [...DEFAULT_ALERT_RULES, custom], firing: [] });
    await vi.waitFor(() => expect(page.transport.pendingEvents()).toContain('alerts:history'));
    page.transport.answer('alerts:history', { entries: [], hasMore: false });
    await vi.waitFor(() => expect(sut?.el.querySelectorAll('.alerts-channels tbody tr[data-id]').length).toBe(channels.length));
    return page;
  }

  const submit = (form: HTMLFormElement) => form.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  const click = (el: Element | null | undefined) => (el as HTMLElement).click();

  it('edits a channel: non-secret settings filled in, secrets empty and left out unless replaced', async () => {
    const { transport, toasts } = await open();
    click(sut?.el.querySelector('.alerts-channels tr[data-id="c1"] [data-action="edit-channel"]'));
    const form = sut?.el.querySelector('.alerts-channel-edit') as HTMLFormElement;
    const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    expect(form.hidden).toBe(false);
    expect(field('name').value).toBe('Channel c1');
    expect(field('enabled').checked).toBe(true);
    expect(field('f-priority').value).toBe('4');
    expect([field('f-url').type, field('f-url').value, field('f-url').placeholder]).toEqual(['password', '', 'set (leave empty to keep)']);
    expect(field('f-token').type).toBe('password');

    field('name').value = 'Phone';
    field('enabled').checked = false;
    field('f-priority').value = '2';
    field('f-token').value = 'new-token';
    submit(form);
    expect(transport.sent.at(-1)).toEqual({
      event: 'alerts:channels:update',
      payload: { channelId: 'c1', name: 'Phone', enabled: false, config: { kind: 'ntfy', settings: { priority: 2 }, secrets: { token: 'new-token' } } },
    });
    transport.answer('alerts:channels:update', { channel: channel('c1', { name: 'Phone', enabled: false }) });
    await vi.waitFor(() => expect(toasts.success).toHaveBeenCalledWith('Channel Phone saved'));
    expect(form.hidden).toBe(true);
  });

  it('shows an unset secret as such and refuses an emptied name', async () => {
    const { transport } = await open();
    click(sut?.el.querySelector('.alerts-channels tr[data-id="c2"] [data-action="edit-channel"]'));
    const form = sut?.el.querySelector('.alerts-channel-edit') as HTMLFormElement;
    expect((form.elements.namedItem('f-password') as HTMLInputElement).placeholder).toBe('not set');
    expect((form.elements.namedItem('f-to') as HTMLInputElement).value).toBe('x@y.z');
    (form.elements.namedItem('name') as HTMLInputElement).value = ' ';
    submit(form);
    expect(form.querySelector('.problem')?.textContent).toBe('Name: required');
    expect(transport.pendingEvents()).not.toContain('alerts:channels:update');
  });

  it('saves the channels a rule notifies', async () => {
    const { transport } = await open();
    const row = sut?.el.querySelector('.alerts-rules tr[data-id="llama-crashed"]') as HTMLElement;
    const boxes = [...row.querySelectorAll<HTMLInputElement>('input[name="channel"]')];
    expect(boxes.map((b) => [b.value, b.checked])).toEqual([['c1', false], ['c2', false]]);
    boxes[1]!.checked = true;
    click(row.querySelector('[data-action="save-rule"]'));
    expect(transport.sent.at(-1)).toMatchObject({ event: 'alerts:rules:save', payload: { rule: { id: 'llama-crashed', channelIds: ['c2'] } } });
  });

  it('adds a custom rule after checking the form, and deletes one after asking', async () => {
    const { transport, toasts } = await open();
    const form = sut?.el.querySelector('.alerts-custom-rule') as HTMLFormElement;
    const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    field('threshold').value = 'hot';
    submit(form);
    expect(form.querySelector('.problem')?.textContent).toBe('Series: required; Threshold: a number');
    expect(transport.pendingEvents()).not.toContain('alerts:rules:save');

    field('series').value = 'gpu.0.tempC';
    field('threshold').value = '80';
    field('for').value = '120';
    (form.elements.namedItem('comparison') as HTMLSelectElement).value = 'above';
    form.querySelector<HTMLInputElement>('input[name="channel"][value="c1"]')!.checked = true;
    submit(form);
    expect(transport.sent.at(-1)).toEqual({
      event: 'alerts:rules:save',
      payload: { rule: { name: 'gpu.0.tempC above 80', enabled: true, forMs: 120_000, repeatMs: 0, channelIds: ['c1'], params: { kind: 'custom', series: 'gpu.0.tempC', comparison: 'above', threshold: 80 } } },
    });
    transport.answer('alerts:rules:save', { rule: { ...custom, id: 'custom-2', name: 'gpu.0.tempC above 80' } });
    await vi.waitFor(() => expect(toasts.success).toHaveBeenCalledWith('Rule gpu.0.tempC above 80 added'));

    // Only custom rules can be deleted.
    expect(sut?.el.querySelector('.alerts-rules tr[data-id="llama-crashed"] [data-action="delete-rule"]')).toBeNull();
    click(sut?.el.querySelector('.alerts-rules tr[data-id="custom-1"] [data-action="delete-rule"]'));
    expect(transport.sent.at(-1)).toEqual({ event: 'alerts:rules:delete', payload: { ruleId: 'custom-1' } });
  });
});
