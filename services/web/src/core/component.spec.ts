// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { Component, type EventMap } from './component.js';
import { h } from './dom.js';

class Counter extends Component<{ onClick: (id: string) => void }> {
  protected override render(): HTMLElement {
    return h('div', null, h('button', { 'data-action': 'hit', 'data-id': 'x' }, h('span', null, 'inner')));
  }

  protected override events(): EventMap {
    return { 'click [data-action="hit"]': (_e, button) => this.props.onClick(button.dataset.id ?? '') };
  }

  watch(dispose: () => void): void {
    this.own(dispose);
  }
}

describe(Component.name, () => {
  it('delegates declared events from the root, matching the closest target', () => {
    const onClick = vi.fn();
    const sut = new Counter({ onClick }).mount(document.body);
    sut.el.querySelector('span')?.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(onClick).toHaveBeenCalledWith('x');
    sut.destroy();
  });

  it('cleans up on destroy: removes the root, stops listeners, runs disposers once', () => {
    const onClick = vi.fn();
    const dispose = vi.fn();
    const sut = new Counter({ onClick }).mount(document.body);
    sut.watch(dispose);
    const button = sut.el.querySelector('button');

    sut.destroy();
    sut.destroy();
    button?.dispatchEvent(new MouseEvent('click', { bubbles: true }));

    expect(sut.el.isConnected).toBe(false);
    expect(onClick).not.toHaveBeenCalled();
    expect(dispose).toHaveBeenCalledTimes(1);
  });
});
