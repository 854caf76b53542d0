// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { identity, sessionView, userView } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { UsersPage } from './users-page.js';

const me = identity('admin', 'alice');
const users = [userView('alice', { id: 'id-alice', role: 'admin' }), userView('bob', { role: 'viewer', lastSeenAt: 1_700_000_500_000 })];

describe(UsersPage.name, () => {
  let sut: UsersPage | undefined;

  beforeEach(() => {
    vi.stubGlobal('confirm', () => true);
  });

  afterEach(() => {
    sut?.destroy();
    vi.unstubAllGlobals();
  });

  function open() {
    const page = pageContext(me);
    sut = new UsersPage(page.ctx).mount(document.body);
    page.transport.answer('users:list', { users });
    page.transport.answer('sessions:list', { sessions: [sessionView('00000000000000aa', { current: true })] });
    return page;
  }

  const row = (name: string) => [...(sut?.el.querySelectorAll<HTMLElement>('.users-table tbody tr') ?? [])].find((tr) => tr.querySelector('.username')?.textContent === name);

  it('lists the users and sessions, marking the signed-in user and this browser', async () => {
    open();
    await vi.waitFor(() => expect(row('bob')).toBeDefined());
    expect((row('alice')?.querySelector('.me') as HTMLElement).hidden).toBe(false);
    expect((row('bob')?.querySelector('.me') as HTMLElement).hidden).toBe(true);
    expect((row('bob')?.querySelector('.role') as HTMLSelectElement).value).toBe('viewer');
    expect(row('bob')?.querySelector('.last-seen')?.textContent).not.toBe('never');
    expect((sut?.el.querySelector('.sessions-table .current') as HTMLElement).hidden).toBe(false);
  });

  it('shows LAST_ADMIN in words and puts the role back', async () => {
    const { transport, toasts } = open();
    await vi.waitFor(() => expect(row('alice')).toBeDefined());
    const select = row('alice')?.querySelector('.role') as HTMLSelectElement;
    select.value = 'viewer';
    select.dispatchEvent(new Event('change', { bubbles: true }));

    expect(transport.sent.at(-1)).toEqual({ event: 'users:update', payload: { userId: 'id-alice', role: 'viewer' } });
    transport.fail('users:update', { code: 'LAST_ADMIN', message: 'no' });
    await vi.waitFor(() => expect(transport.pendingEvents()).toContain('users:list'));
    transport.answer('users:list', { users });
    transport.answer('sessions:list', { sessions: [] });
    await vi.waitFor(() => expect(select.value).toBe('admin'));
    expect(sut?.el.querySelector('.users-table')?.closest('section')?.querySelector('.problem')?.textContent).toBe(
      'Changing the role of alice: The last admin cannot be removed, disabled or demoted.',
    );
    expect(toasts.error).toHaveBeenCalledOnce();
  });

  it('checks a new user before sending it, then creates it', async () => {
    const { transport, toasts } = open();
    const form = sut?.el.querySelector('.create-user') as HTMLFormElement;
    const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
    field('username').value = 'carol';
    field('password').value = 'short';
    form.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    expect(form.querySelector('.problem')?.textContent).toBe('Password: at least 10 characters');
    expect(transport.pendingEvents()).not.toContain('users:create');

    field('password').value = 'long enough secret';
    (form.elements.namedItem('role') as HTMLSelectElement).value = 'operator';
    form.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
    expect(transport.sent.at(-1)).toEqual({ event: 'users:create', payload: { username: 'carol', password: 'long enough secret', role: 'operator' } });
    transport.answer('users:create', { user: userView('carol', { role: 'operator' }) });
    await vi.waitFor(() => expect(toasts.success).toHaveBeenCalledWith('carol added as operator'));
    expect(field('username').value).toBe('');
  });
});
