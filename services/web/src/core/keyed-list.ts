/**
 * Keeps a container's children in line with a list of items, by key: existing views are updated
 * in place and moved (not recreated) when the order changes; views whose key disappeared are
 * destroyed. The container must hold nothing but the list's views.
 */
export interface ListView<T> {
  readonly el: HTMLElement;
  update(item: T): void;
  destroy(): void;
}

export class KeyedList<T> {
  private views = new Map<string, ListView<T>>();
  private readonly container: HTMLElement;
  private readonly keyOf: (item: T) => string;
  private readonly create: (item: T) => ListView<T>;

  constructor(container: HTMLElement, keyOf: (item: T) => string, create: (item: T) => ListView<T>) {
    this.container = container;
    this.keyOf = keyOf;
    this.create = create;
  }

  get size(): number {
    return this.views.size;
  }

  get(key: string): ListView<T> | undefined {
    return this.views.get(key);
  }

  reconcile(items: readonly T[]): void {
    const wanted = new Map<string, T>();
    for (const item of items) {
      const key = this.keyOf(item);
      if (!wanted.has(key)) {
        wanted.set(key, item);
      }
    }
    for (const [key, view] of this.views) {
      if (!wanted.has(key)) {
        view.destroy();
        view.el.remove();
      }
    }
    const next = new Map<string, ListView<T>>();
    let previous: Node | null = null;
    for (const [key, item] of wanted) {
      let view = this.views.get(key);
      if (view) {
        view.update(item);
      } else {
        view = this.create(item);
      }
      next.set(key, view);
      const expected: Node | null = previous === null ? this.container.firstChild : previous.nextSibling;
      if (view.el !== expected) {
        this.container.insertBefore(view.el, expected);
      }
      previous = view.el;
    }
    this.views = next;
  }

  clear(): void {
    this.reconcile([]);
  }
}
