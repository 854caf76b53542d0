/**
 * The Models page's search over thousands of models without re-sorting or re-reading them on
 * every keystroke or state change: the lower-cased search text of each model is kept per model
 * object, and the sorted order is kept until a change can move a model in it (a model added or
 * removed, or a change of the sorted field). Pure (no DOM), so it is tested alone.
 */
import type { ModelView } from '@llamaproxy/shared';
import { compareModels, matchesFilter, searchText, sortValue, type ModelQuery, type ModelSortKey, type SortDirection } from './model-list.js';

export class ModelIndex {
  private models: readonly ModelView[] = [];
  /** Search text per model object; a changed model is a new object, so it is computed again. */
  private readonly text = new WeakMap<ModelView, string>();
  /** Indexes into `models`, sorted by `orderKey`; null when it must be computed again. */
  private order: number[] | null = null;
  private orderKey: { sort: ModelSortKey; direction: SortDirection } | null = null;
  /** How many times the order was computed (for tests: a state change must not re-sort by name). */
  sorts = 0;

  /** The list the next queries read. Cheap when the keys stayed where they were (a state change). */
  setModels(next: readonly ModelView[]): void {
    const previous = this.models;
    if (next === previous) {
      return;
    }
    this.models = next;
    if (this.order === null || this.orderKey === null) {
      return;
    }
    if (next.length !== previous.length) {
      this.order = null;
      return;
    }
    const sort = this.orderKey.sort;
    for (let i = 0; i < next.length; i += 1) {
      const a = previous[i];
      const b = next[i];
      if (a === b) {
        continue;
      }
      if (a === undefined || b === undefined || a.id !== b.id || a.nodeId !== b.nodeId || sortValue(a, sort) !== sortValue(b, sort)) {
        this.order = null;
        return;
      }
    }
  }

  /** The models that match `q.text` and `q.filter`, in `q.sort` order. */
  query(q: ModelQuery): ModelView[] {
    const order = this.sorted(q.sort, q.direction);
    const needle = q.text.trim().toLowerCase();
    const shown: ModelView[] = [];
    for (const index of order) {
      const m = this.models[index];
      if (m !== undefined && matchesFilter(m, q.filter) && (needle === '' || this.searchTextOf(m).includes(needle))) {
        shown.push(m);
      }
    }
    return shown;
  }

  private searchTextOf(m: ModelView): string {
    let text = this.text.get(m);
    if (text === undefined) {
      text = searchText(m);
      this.text.set(m, text);
    }
    return text;
  }

  private sorted(sort: ModelSortKey, direction: SortDirection): number[] {
    if (this.order !== null && this.orderKey?.sort === sort && this.orderKey.direction === direction) {
      return this.order;
    }
    const sign = direction === 'asc' ? 1 : -1;
    const models = this.models;
    const order = models.map((_, i) => i);
    order.sort((i, j) => sign * compareModels(models[i] as ModelView, models[j] as ModelView, sort));
    this.order = order;
    this.orderKey = { sort, direction };
    this.sorts += 1;
    return order;
  }
}
