// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { Component } from './component.js';
import { KeyedList } from './keyed-list.js';

interface Item {
  id: string;
  label: string;
}

class Row extends Component<Item> {
  static created = 0;
  readonly destroySpy = vi.fn();

  constructor(item: Item) {
    super(item);
    Row.created++;
  }

  protected override render(): HTMLElement {
    const li = document.createElement('li');
    li.dataset.id = this.props.id;
    return li;
  }

  protected override patch(): void {
    this.el.textContent = this.props.label;
  }

  protected override onDestroy(): void {
    this.destroySpy();
  }
}

const items = (...ids: string[]): Item[] => ids.map((id) => ({ id, label: id.toUpperCase() }));
const ids = (ul: HTMLElement): string[] => [...ul.children].map((li) => (li as HTMLElement).dataset.id ?? '');

describe(KeyedList.name, () => {
  let container: HTMLUListElement;
  let sut: KeyedList<Item>;

  beforeEach(() => {
    Row.created = 0;
    container = document.createElement('ul');
    sut = new KeyedList(container, (item) => item.id, (item) => new Row(item));
  });

  it('renders the items in order', () => {
    sut.reconcile(items('a', 'b', 'c'));
    expect(ids(container)).toEqual(['a', 'b', 'c']);
    expect(container.textContent).toBe('ABC');
  });

  it.each([
    ['reverse', ['c', 'b', 'a']],
    ['move last to first', ['c', 'a', 'b']],
    ['move first to last', ['b', 'c', 'a']],
    ['swap middle', ['a', 'c', 'b']],
  ])('moves the existing nodes on %s instead of recreating them', (_name, order) => {
    sut.reconcile(items('a', 'b', 'c'));
    const before = new Map([...container.children].map((el) => [(el as HTMLElement).dataset.id, el]));

    sut.reconcile(items(...order));

    expect(ids(container)).toEqual(order);
    expect(Row.created).toBe(3);
    for (const el of container.children) {
      expect(el).toBe(before.get((el as HTMLElement).dataset.id));
    }
  });

  it('updates kept views in place with the new item', () => {
    sut.reconcile(items('a'));
    const node = container.firstElementChild;
    sut.reconcile([{ id: 'a', label: 'renamed' }]);
    expect(container.firstElementChild).toBe(node);
    expect(node?.textContent).toBe('renamed');
  });

  it('destroys the views of removed keys and creates views for new ones', () => {
    sut.reconcile(items('a', 'b', 'c'));
    const b = sut.get('b') as Row;

    sut.reconcile(items('c', 'd', 'a'));

    expect(ids(container)).toEqual(['c', 'd', 'a']);
    expect(b.destroySpy).toHaveBeenCalledTimes(1);
    expect(b.el.isConnected).toBe(false);
    expect(Row.created).toBe(4);
    expect(sut.size).toBe(3);
  });

  it('keeps the first of duplicate keys', () => {
    sut.reconcile([{ id: 'a', label: 'first' }, { id: 'a', label: 'second' }]);
    expect(container.textContent).toBe('first');
  });

  it('clear destroys everything', () => {
    sut.reconcile(items('a', 'b'));
    const views = [sut.get('a') as Row, sut.get('b') as Row];
    sut.clear();
    expect(container.children).toHaveLength(0);
    views.forEach((v) => expect(v.destroySpy).toHaveBeenCalledTimes(1));
  });
});
