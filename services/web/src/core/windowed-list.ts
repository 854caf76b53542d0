/**
 * A long list of fixed-height rows that renders only what the scroller shows (plus an overscan),
 * with two spacers standing for the rest: the DOM holds tens of rows for a list of thousands.
 * The rows in the window are reconciled by key (KeyedList): a row that stays in the window keeps
 * its element and is only updated.
 */
import { KeyedList, type ListView } from './keyed-list.js';
import { rowWindow, type RowWindow } from '../lib/row-window.js';

export interface WindowedListOptions<T> {
  /** The element that scrolls (its `scrollTop` and `clientHeight` are read). */
  scroller: HTMLElement;
  /** Holds the rows only. */
  container: HTMLElement;
  /** Elements whose height stands for the rows above and below the window. */
  spacerTop: HTMLElement;
  spacerBottom: HTMLElement;
  /** Height of every row, px (the CSS must make each row exactly this high). */
  rowHeight: number;
  /** Px between the top of the scroller's content and the first row (a sticky header). */
  offset: () => number;
  overscan?: number;
  keyOf: (item: T) => string;
  create: (item: T) => ListView<T>;
}

export class WindowedList<T> {
  private readonly options: WindowedListOptions<T>;
  private readonly rows: KeyedList<T>;
  private items: readonly T[] = [];
  private frame: number | null = null;
  private readonly onScroll = (): void => {
    if (this.frame === null) {
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        this.render();
      });
    }
  };
  /** The window rendered last. */
  current: RowWindow = { start: 0, end: 0, padTop: 0, padBottom: 0 };

  constructor(options: WindowedListOptions<T>) {
    this.options = options;
    this.rows = new KeyedList(options.container, options.keyOf, options.create);
    options.scroller.addEventListener('scroll', this.onScroll, { passive: true });
  }

  /** Every item of the list, in order; renders the window at once. */
  setItems(items: readonly T[]): void {
    this.items = items;
    this.render();
  }

  /** The view of a rendered row, by key. */
  get(key: string): ListView<T> | undefined {
    return this.rows.get(key);
  }

  /** Brings the rendered rows in line with the scroll position and the items. */
  render(): void {
    const { scroller, rowHeight, overscan, offset, spacerTop, spacerBottom } = this.options;
    const window = rowWindow({
      count: this.items.length,
      rowHeight,
      scrollTop: scroller.scrollTop - offset(),
      viewportHeight: scroller.clientHeight,
      overscan: overscan ?? 8,
    });
    this.current = window;
    spacerTop.style.height = `${window.padTop}px`;
    spacerBottom.style.height = `${window.padBottom}px`;
    spacerTop.hidden = window.padTop === 0;
    spacerBottom.hidden = window.padBottom === 0;
    this.rows.reconcile(this.items.slice(window.start, window.end));
  }

  destroy(): void {
    this.options.scroller.removeEventListener('scroll', this.onScroll);
    if (this.frame !== null) {
      cancelAnimationFrame(this.frame);
      this.frame = null;
    }
    this.rows.clear();
  }
}
