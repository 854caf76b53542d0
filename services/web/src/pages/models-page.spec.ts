// @vitest-environment happy-dom
import type { Role } from '@llamaproxy/shared';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { identity, model } from '../test-support/fixtures.js';
import { pageContext } from '../test-support/page-context.js';
import { ModelsPage, SEARCH_DEBOUNCE_MS } from './models-page.js';

describe(ModelsPage.name, () => {
  let sut: ModelsPage | undefined;

  afterEach(() => {
    sut?.destroy();
  });

  const visible = (selector: string) => [...(sut?.el.querySelectorAll<HTMLElement>(selector) ?? [])].filter((el) => !el.hidden).length;

  it.each<[Role, number]>([
    ['viewer', 0],
    ['operator', 2],
    ['admin', 2],
  ])('shows load/unload and rescan to a %s: %i toggles', (role, toggles) => {
    const { ctx } = pageContext(identity(role));
    ctx.store.set('models', [model('a'), model('b', { state: { ...model('b').state, status: 'loaded' } })]);
    sut = new ModelsPage(ctx).mount(document.body);
    expect(visible('[data-action="toggle"]')).toBe(toggles);
    expect(visible('[data-action="rescan"]')).toBe(toggles > 0 ? 1 : 0);
    // Everyone may look at a model's settings.
    expect(visible('[data-action="settings"]')).toBe(2);
  });

  it('lists the files the scan skipped, and hides the list when there are none', () => {
    const { ctx } = pageContext(identity('viewer'));
    ctx.store.set('models', [model('a')]);
    sut = new ModelsPage(ctx).mount(document.body);
    const details = sut.el.querySelector('details.skipped') as HTMLElement;
    expect(details.hidden).toBe(true);
    ctx.store.set('skipped', [{ nodeId: 'n1', path: 'links/gone.gguf', reason: 'dangling symlink' }]);
    expect(details.hidden).toBe(false);
    expect(details.querySelector('summary')?.textContent).toBe('1 file in the models directory skipped by the scan');
    expect([...details.querySelectorAll('li')].map((li) => li.textContent)).toEqual(['links/gone.gguf: dangling symlink']);
    ctx.store.set('skipped', []);
    expect(details.hidden).toBe(true);
  });

  it('shows the controls once the role allows them', () => {
    const { ctx } = pageContext(identity('viewer'));
    ctx.store.set('models', [model('a')]);
    sut = new ModelsPage(ctx).mount(document.body);
    expect(visible('[data-action="toggle"]')).toBe(0);
    ctx.store.set('identity', identity('operator'));
    expect(visible('[data-action="toggle"]')).toBe(1);
    expect(visible('[data-action="rescan"]')).toBe(1);
  });

  it('shows the split set, the projector and drafter beside a model, and why it cannot load', () => {
    const { ctx } = pageContext(identity('viewer'));
    ctx.store.set('models', [
      model('big', { layout: 'multi-shard', split: { count: 3, present: [1, 2] }, valid: false, invalidReason: 'shard 3 of 3 missing' }),
      model('vision', { layout: 'multimodal', mmproj: 'vision/mmproj.gguf', draft: 'vision/mtp-vision.gguf' }),
      model('plain'),
    ]);
    sut = new ModelsPage(ctx).mount(document.body);
    const cell = (id: string, selector: string) => sut?.el.querySelector<HTMLElement>(`tr[data-id="${id}"] ${selector}`);
    expect(cell('big', '.companions')?.textContent).toBe('2 of 3 shards');
    expect(cell('big', '.reason')?.textContent).toBe('shard 3 of 3 missing');
    expect(cell('vision', '.companions')?.textContent).toBe('projector vision/mmproj.gguf · drafter vision/mtp-vision.gguf');
    expect(cell('vision', '.companions')?.hidden).toBe(false);
    expect(cell('plain', '.companions')?.hidden).toBe(true);
  });
  it('marks the rows of a node that is not heard from as stale, and clears it when the node is back', () => {
    const { ctx } = pageContext(identity('viewer'));
    ctx.store.set('models', [model('a'), model('b', { nodeId: 'other' })]);
    ctx.store.set('nodes', [{ nodeId: 'node-1', online: false, lastHeardAt: 1 }, { nodeId: 'other', online: true, lastHeardAt: 2 }]);
    sut = new ModelsPage(ctx).mount(document.body);
    const stale = () => [...(sut?.el.querySelectorAll<HTMLElement>('tr.model-row.stale') ?? [])].map((tr) => tr.dataset.id);
    expect(stale()).toEqual(['a']);
    ctx.store.set('nodes', [{ nodeId: 'node-1', online: true, lastHeardAt: 3 }, { nodeId: 'other', online: true, lastHeardAt: 2 }]);
    expect(stale()).toEqual([]);
  });

  describe('with thousands of models', () => {
    const farm = (n: number) => Array.from({ length: n }, (_, i) => model(`farm-${String(i + 1).padStart(5, '0')}`));
    const rows = () => [...(sut?.el.querySelectorAll<HTMLElement>('tr.model-row') ?? [])];

    it('renders only a window of rows, with spacers standing for the rest', () => {
      const { ctx } = pageContext(identity('viewer'));
      ctx.store.set('models', farm(2000));
      sut = new ModelsPage(ctx).mount(document.body);
      expect(rows().length).toBeGreaterThan(0);
      expect(rows().length).toBeLessThan(100);
      expect(rows()[0]?.dataset.id).toBe('farm-00001');
      expect(sut.el.querySelector('.count')?.textContent).toBe('2000 of 2000');
      const bottom = sut.el.querySelector<HTMLElement>('tbody.spacer-bottom tr');
      expect(bottom?.hidden).toBe(false);
      expect(parseInt(bottom?.style.height ?? '0', 10)).toBe((2000 - rows().length) * 72);
    });

    it('updates only the row whose model changed, in place', async () => {
      const { ctx } = pageContext(identity('operator'));
      const models = farm(2000);
      ctx.store.set('models', models);
      sut = new ModelsPage(ctx).mount(document.body);
      const before = rows();
      const changed: Node[] = [];
      const observer = new MutationObserver((records) => changed.push(...records.map((r) => r.target)));
      observer.observe(sut.el.querySelector('tbody.rows') as Node, { subtree: true, childList: true, characterData: true, attributes: true });
      ctx.store.set('models', models.map((m, i) => (i === 2 ? { ...m, state: { ...m.state, status: 'loaded' as const } } : m)));
      await Promise.resolve();
      observer.disconnect();
      expect(rows()).toEqual(before);
      const third = before[2] as HTMLElement;
      expect(third.querySelector('[data-action="toggle"]')?.textContent).toBe('Unload');
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.every((node) => third.contains(node))).toBe(true);
    });

    it('applies a batch of states (models:states) to the changed rows only, in place', async () => {
      const { ctx, transport } = pageContext(identity('operator'));
      const models = farm(2000);
      ctx.store.set('models', models);
      sut = new ModelsPage(ctx).mount(document.body);
      const before = rows();
      const changed: Node[] = [];
      const observer = new MutationObserver((records) => changed.push(...records.map((r) => r.target)));
      observer.observe(sut.el.querySelector('tbody.rows') as Node, { subtree: true, childList: true, characterData: true, attributes: true });
      // A node's start-up batch: two rows in the window change, the others of the batch are off screen.
      const batch = [1, 4, 1500, 1999].map((i) => ({ ...(models[i] as (typeof models)[number]).state, status: 'loaded' as const }));
      transport.push('models:states', { nodeId: 'node-1', models: batch }, 5);
      await Promise.resolve();
      observer.disconnect();
      expect(rows()).toEqual(before);
      const [second, fifth] = [before[1] as HTMLElement, before[4] as HTMLElement];
      expect([second, fifth].map((row) => row.querySelector('[data-action="toggle"]')?.textContent)).toEqual(['Unload', 'Unload']);
      expect(before[2]?.querySelector('[data-action="toggle"]')?.textContent).toBe('Load');
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.every((node) => second.contains(node) || fifth.contains(node))).toBe(true);
    });

    it('filters once the typing pauses', () => {
      vi.useFakeTimers();
      try {
        const { ctx } = pageContext(identity('viewer'));
        ctx.store.set('models', farm(2000));
        sut = new ModelsPage(ctx).mount(document.body);
        const search = sut.el.querySelector('.search') as HTMLInputElement;
        for (const text of ['f', 'farm-01', 'farm-0190']) {
          search.value = text;
          search.dispatchEvent(new Event('input', { bubbles: true }));
        }
        expect(sut.el.querySelector('.count')?.textContent).toBe('2000 of 2000');
        vi.advanceTimersByTime(SEARCH_DEBOUNCE_MS);
        expect(sut.el.querySelector('.count')?.textContent).toBe('10 of 2000');
        expect(rows().map((r) => r.dataset.id)).toEqual(Array.from({ length: 10 }, (_, i) => `farm-0190${i}`));
      } finally {
        vi.useRealTimers();
      }
    });
  });
});
