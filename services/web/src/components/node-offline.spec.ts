// @vitest-environment happy-dom
import type { LlamaStatus } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { identity } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { AppShell } from './app-shell.js';
import { LlamaCard } from './llama-card.js';

const status: LlamaStatus = {
  nodeId: 'gpu-box',
  state: 'running',
  pid: 1,
  url: 'http://127.0.0.1:8080',
  startedAt: 0,
  restarts: 0,
  nextRestartAt: null,
  lastExit: null,
  args: [],
  updatedAt: 0,
};

describe('offline supervisor node', () => {
  let sut: { destroy(): void } | undefined;
  afterEach(() => sut?.destroy());

  it('puts a banner in the app shell while a node is offline, and takes it away when it is back', () => {
    const { ctx } = pageContext(identity('viewer'));
    const shell = new AppShell({ store: ctx.store, nav: [], href: (p) => p, onOpenPalette: vi.fn(), onToggleTheme: vi.fn(), onChangePassword: vi.fn(), onSignOut: vi.fn() }).mount(document.body);
    sut = shell;
    const banner = shell.el.querySelector('.node-banner') as HTMLElement;
    expect(banner.hidden).toBe(true);
    ctx.store.set('nodes', [{ nodeId: 'gpu-box', online: false, lastHeardAt: Date.now() - 90_000 }]);
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toMatch(/^Supervisor node gpu-box offline since \d\d:\d\d:\d\d \(1m 3\ds ago\)/);
    ctx.store.set('nodes', [{ nodeId: 'gpu-box', online: true, lastHeardAt: Date.now() }]);
    expect(banner.hidden).toBe(true);
  });

  it('marks the llama card of an offline node with a badge and since when', () => {
    const { ctx } = pageContext(identity('viewer'));
    const card = new LlamaCard({ ctx, status, node: { nodeId: 'gpu-box', online: true, lastHeardAt: Date.now() } }).mount(document.body);
    sut = card;
    const badge = card.el.querySelector('.offline') as HTMLElement;
    expect(badge.hidden).toBe(true);
    card.update({ ctx, status, node: { nodeId: 'gpu-box', online: false, lastHeardAt: null } });
    expect(badge.hidden).toBe(false);
    expect(card.el.querySelector('.node-offline')?.textContent).toBe('Supervisor offline, never heard from; the state shown is its last report.');
  });
});
