import type { MemoryReport } from '@llamaproxy/shared';
import { Component } from '../core/component.js';
import type { AppContext } from '../core/context.js';
import { h, replaceChildren, setText } from '../core/dom.js';
import { KeyedList } from '../core/keyed-list.js';
import { formatBytes, type MemoryUnits } from '../lib/format.js';
import { deviceBars, modelHue, type DeviceBar, type MemorySegment } from '../lib/memory-bars.js';

export interface MemoryBarsProps {
  reports: readonly MemoryReport[];
  units: MemoryUnits;
}

interface DeviceProps {
  bar: DeviceBar;
  units: MemoryUnits;
}

/** What a segment's label and legend say about a resident model. */
function segmentNote(s: MemorySegment): string {
  const notes = [s.pinned ? 'pinned' : null, s.status === 'loaded' ? null : s.status, s.inFlight > 0 ? `${s.inFlight} in flight` : null].filter((n) => n !== null);
  return notes.length === 0 ? '' : ` (${notes.join(', ')})`;
}

/** One device: a bar with a segment per resident model and the free room, and a legend. */
class DeviceMemory extends Component<DeviceProps> {
  private title!: HTMLElement;
  private figures!: HTMLElement;
  private track!: HTMLElement;
  private legend!: HTMLElement;

  protected override render(): HTMLElement {
    this.title = h('span', { class: 'memory-device-name' });
    this.figures = h('span', { class: 'memory-figures muted' });
    this.track = h('div', { class: 'memory-track', role: 'img' });
    this.legend = h('ul', { class: 'memory-legend plain-list' });
    return h('div', { class: 'memory-device' }, h('div', { class: 'memory-head' }, this.title, this.figures), this.track, this.legend);
  }

  protected override patch(): void {
    const { bar, units } = this.props;
    const fmt = (n: number): string => formatBytes(n, units);
    this.el.dataset.device = bar.key;
    this.el.classList.toggle('over', bar.over);
    setText(this.title, `${bar.nodeId} · ${bar.deviceId} (${bar.name})${bar.mode === 'count' ? ' · count mode' : ''}`);
    setText(this.figures, `${fmt(bar.usedBytes)} used · ${fmt(bar.freeBytes)} free of ${fmt(bar.budgetBytes)} budget (${fmt(bar.totalBytes)} total)`);
    const parts = bar.segments.map((s) => {
      const el = h('div', { class: `memory-segment${s.status === 'loading' ? ' loading' : ''}${s.pinned ? ' pinned' : ''}`, 'data-model': s.modelId, title: `${s.modelId}: ${fmt(s.bytes)}${segmentNote(s)}` });
      el.style.setProperty('width', `${(s.share * 100).toFixed(2)}%`);
      el.style.setProperty('background', `hsl(${modelHue(s.modelId)} 60% 50%)`);
      return el;
    });
    const free = h('div', { class: 'memory-free', title: `free: ${fmt(bar.freeBytes)}` });
    free.style.setProperty('width', `${(bar.freeShare * 100).toFixed(2)}%`);
    replaceChildren(this.track, parts, free);
    this.track.setAttribute(
      'aria-label',
      `${bar.deviceId}: ${bar.segments.map((s) => `${s.modelId} ${fmt(s.bytes)}`).join(', ') || 'no model'}; ${fmt(bar.freeBytes)} free of ${fmt(bar.budgetBytes)}`,
    );
    replaceChildren(
      this.legend,
      bar.segments.map((s) => {
        const swatch = h('span', { class: 'memory-swatch', 'aria-hidden': 'true' });
        swatch.style.setProperty('background', `hsl(${modelHue(s.modelId)} 60% 50%)`);
        return h('li', { 'data-model': s.modelId }, swatch, h('span', { class: 'memory-model' }, s.modelId), ` ${fmt(s.bytes)}${segmentNote(s)}`);
      }),
      h('li', { class: 'muted' }, h('span', { class: 'memory-swatch free', 'aria-hidden': 'true' }), `free ${fmt(bar.freeBytes)}`),
    );
  }
}

/**
 * Memory per device (placement, issue #14): for every node and device, each loaded model's share
 * of the budget and the free room. Hidden until a supervisor reports memory.
 */
export class MemoryBars extends Component<MemoryBarsProps> {
  private list!: KeyedList<DeviceProps>;

  protected override render(): HTMLElement {
    const devices = h('div', { class: 'memory-devices' });
    this.list = new KeyedList(devices, (p) => p.bar.key, (p) => new DeviceMemory(p));
    this.own(() => this.list.clear());
    return h('section', { class: 'card memory-bars', 'aria-label': 'Memory per device' }, h('h2', null, 'Memory'), devices);
  }

  protected override patch(): void {
    const bars = deviceBars(this.props.reports);
    this.el.hidden = bars.length === 0;
    this.list.reconcile(bars.map((bar) => ({ bar, units: this.props.units })));
  }
}

/**
 * Mounts the memory bars in `parent` (before `before`), kept in line with the store's memory
 * reports and memory units. Returns the unmount.
 */
export function mountMemoryBars(ctx: Pick<AppContext, 'store'>, parent: HTMLElement, before: Node | null = null): () => void {
  const { store } = ctx;
  const props = (): MemoryBarsProps => ({ reports: store.get('memory'), units: store.get('settings')?.units.memory ?? 'binary' });
  const bars = new MemoryBars(props()).mount(parent, before);
  const offs = [store.subscribe('memory', () => bars.update(props())), store.subscribe('settings', () => bars.update(props()))];
  return () => {
    for (const off of offs) {
      off();
    }
    bars.destroy();
  };
}
