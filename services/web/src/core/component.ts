/**
 * Base class of every view. A component builds its DOM once (`render`), then changes it in place
 * (`patch`) when its props or the state it watches change. Events are declared once in `events()`
 * and delegated from the root element, so re-rendered children never need re-binding.
 *
 *   protected events(): EventMap {
 *     return { 'click [data-action="load"]': (_e, button) => this.load(button.dataset.id) };
 *   }
 */
export type EventHandler = (event: Event, target: HTMLElement) => void;
export type EventMap = Record<string, EventHandler>;

/** What a component can own as a child: anything mountable that can be destroyed. */
export interface Mountable {
  mount(parent: Node, before?: Node | null): unknown;
  destroy(): void;
}

export abstract class Component<P = void> {
  protected props: P;
  private root: HTMLElement | null = null;
  private readonly abort = new AbortController();
  private readonly disposers: (() => void)[] = [];
  private readonly children = new Set<Mountable>();
  private destroyed = false;

  constructor(props: P) {
    this.props = props;
  }

  /** Builds the skeleton once. Dynamic values belong in `patch`. */
  protected abstract render(): HTMLElement;

  /** Brings the DOM in line with `this.props` and any watched state. Called after render and on update. */
  protected patch(): void {}

  /** `'<event type> <css selector>'` → handler; an empty selector means the root itself. */
  protected events(): EventMap {
    return {};
  }

  /** Called once the root is in the document. */
  protected onMount(): void {}

  protected onDestroy(): void {}

  /** The root element, rendered on first access. */
  get el(): HTMLElement {
    if (this.root === null) {
      this.root = this.render();
      this.bindEvents(this.root);
      this.patch();
    }
    return this.root;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  mount(parent: Node, before: Node | null = null): this {
    parent.insertBefore(this.el, before);
    this.onMount();
    return this;
  }

  update(props: P): void {
    this.props = props;
    if (this.root !== null && !this.destroyed) {
      this.patch();
    }
  }

  destroy(): void {
    if (this.destroyed) {
      return;
    }
    this.destroyed = true;
    for (const child of this.children) {
      child.destroy();
    }
    this.children.clear();
    for (const dispose of this.disposers.splice(0).reverse()) {
      dispose();
    }
    this.abort.abort();
    this.onDestroy();
    this.root?.remove();
  }

  /** Runs `dispose` when this component is destroyed (unsubscribe, clear timers, ...). */
  protected own(dispose: () => void): void {
    this.disposers.push(dispose);
  }

  /** A listener on something outside the root (window, document), removed on destroy. */
  protected listen<K extends keyof WindowEventMap>(target: Window, type: K, handler: (e: WindowEventMap[K]) => void): void;
  protected listen<K extends keyof DocumentEventMap>(target: Document, type: K, handler: (e: DocumentEventMap[K]) => void): void;
  protected listen(target: EventTarget, type: string, handler: (e: Event) => void): void {
    target.addEventListener(type, handler, { signal: this.abort.signal });
  }

  /** Mounts a child that is destroyed with this component. */
  protected adopt<C extends Mountable>(child: C, parent: Node, before: Node | null = null): C {
    this.children.add(child);
    child.mount(parent, before);
    return child;
  }

  /** Destroys a child adopted earlier. */
  protected drop(child: Mountable | null): void {
    if (child !== null) {
      this.children.delete(child);
      child.destroy();
    }
  }

  /** A repeating timer cleared on destroy. */
  protected every(ms: number, fn: () => void): void {
    const id = setInterval(fn, ms);
    this.own(() => clearInterval(id));
  }

  private bindEvents(root: HTMLElement): void {
    for (const [spec, handler] of Object.entries(this.events())) {
      const space = spec.indexOf(' ');
      const type = space < 0 ? spec : spec.slice(0, space);
      const selector = space < 0 ? '' : spec.slice(space + 1).trim();
      root.addEventListener(
        type,
        (event) => {
          const target = selector === '' ? root : (event.target as Element | null)?.closest?.(selector);
          if (target instanceof HTMLElement && root.contains(target)) {
            handler(event, target);
          }
        },
        { signal: this.abort.signal },
      );
    }
  }
}
