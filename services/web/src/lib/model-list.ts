/** Search, filter and sort of the models table; pure so it is tested without a DOM. */
import type { ModelView } from '@llamaproxy/shared';

export const MODEL_SORT_KEYS = ['name', 'size', 'params', 'context', 'status', 'quantization'] as const;
export type ModelSortKey = (typeof MODEL_SORT_KEYS)[number];
export type SortDirection = 'asc' | 'desc';

export const MODEL_FILTERS = ['all', 'loaded', 'unloaded', 'error', 'invalid'] as const;
export type ModelFilter = (typeof MODEL_FILTERS)[number];

export interface ModelQuery {
  text: string;
  filter: ModelFilter;
  sort: ModelSortKey;
  direction: SortDirection;
}

/** Loaded first, then the busy ones, then the rest. */
const STATUS_ORDER: Record<string, number> = { loaded: 0, loading: 1, sleeping: 2, error: 3, unloaded: 4 };

/** One collator for every comparison: `localeCompare` with options builds one per call (slow for thousands). */
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export function matchesFilter(m: ModelView, filter: ModelFilter): boolean {
  switch (filter) {
    case 'all':
      return true;
    case 'loaded':
      return m.state.status === 'loaded' || m.state.status === 'loading' || m.state.status === 'sleeping';
    case 'unloaded':
      return m.state.status === 'unloaded';
    case 'error':
      return m.state.status === 'error';
    case 'invalid':
      return !m.valid;
  }
}

/** The lower-cased text a search looks in: id, name, architecture, quantization and path. */
export function searchText(m: ModelView): string {
  return [m.id, m.name, m.architecture, m.quantization, m.path].filter((v) => v !== null).join('\n').toLowerCase();
}

function matchesText(m: ModelView, text: string): boolean {
  const needle = text.trim().toLowerCase();
  if (needle === '') {
    return true;
  }
  return [m.id, m.name, m.architecture, m.quantization, m.path].some((v) => v?.toLowerCase().includes(needle));
}

/** The value a sort key orders by (two models with equal values keep their order under that key). */
export function sortValue(m: ModelView, key: ModelSortKey): string | number | null {
  switch (key) {
    case 'name':
      return m.id;
    case 'size':
      return m.sizeBytes;
    case 'params':
      return m.parameterCount;
    case 'context':
      return m.contextLength;
    case 'status':
      return m.state.status;
    case 'quantization':
      return m.quantization;
  }
}

/** Orders by `key`, then by id. */
export function compareModels(a: ModelView, b: ModelView, key: ModelSortKey): number {
  return compare(a, b, key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function compare(a: ModelView, b: ModelView, key: ModelSortKey): number {
  const num = (x: number | null, y: number | null): number => (x ?? -1) - (y ?? -1);
  switch (key) {
    case 'name':
      return collator.compare(a.id, b.id);
    case 'size':
      return a.sizeBytes - b.sizeBytes;
    case 'params':
      return num(a.parameterCount, b.parameterCount);
    case 'context':
      return num(a.contextLength, b.contextLength);
    case 'status':
      return (STATUS_ORDER[a.state.status] ?? 9) - (STATUS_ORDER[b.state.status] ?? 9);
    case 'quantization':
      return collator.compare(a.quantization ?? '', b.quantization ?? '');
  }
}

export function queryModels(models: readonly ModelView[], q: ModelQuery): ModelView[] {
  const sign = q.direction === 'asc' ? 1 : -1;
  return models
    .filter((m) => matchesFilter(m, q.filter) && matchesText(m, q.text))
    .sort((a, b) => sign * compare(a, b, q.sort) || collator.compare(a.id, b.id));
}
