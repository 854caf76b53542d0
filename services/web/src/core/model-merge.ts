/**
 * The client's model list, kept by key from pages and deltas: pure functions, tested without a
 * DOM or socket. Every function returns the same array when nothing changed, and keeps the
 * objects of the models it did not touch (so views can tell what changed by identity).
 */
import type { ModelKey, ModelView } from '@llamaproxy/shared';

/** `nodeId/id`, as `modelKeyString` of the shared package (kept here: the initial bundle imports no runtime from it). */
export function modelKey(key: ModelKey): string {
  return `${key.nodeId}/${key.id}`;
}

/** The list with `upserted` put in place by key (new ones appended) and `removed` dropped. */
export function applyModelChanges(models: readonly ModelView[], upserted: readonly ModelView[], removed: readonly ModelKey[] = []): ModelView[] {
  if (upserted.length === 0 && removed.length === 0) {
    return models as ModelView[];
  }
  const incoming = new Map(upserted.map((m) => [modelKey(m), m]));
  const gone = new Set(removed.map(modelKey));
  const next: ModelView[] = [];
  for (const m of models) {
    const key = modelKey(m);
    if (gone.has(key)) {
      continue;
    }
    const replacement = incoming.get(key);
    if (replacement !== undefined) {
      incoming.delete(key);
      next.push(replacement);
    } else {
      next.push(m);
    }
  }
  for (const m of incoming.values()) {
    if (!gone.has(modelKey(m))) {
      next.push(m);
    }
  }
  return next;
}

/**
 * What a reading of the list in pages has seen, so that its pages never undo a newer delta: a
 * model a delta added, changed or removed while the pages were read keeps what the delta said.
 */
export interface ModelSync {
  /** Keys the pages held (the list is complete once the last page came). */
  readonly seen: Set<string>;
  /** Keys a delta touched since the reading began: true for upserted, false for removed. */
  readonly touched: Map<string, boolean>;
}

export function beginModelSync(): ModelSync {
  return { seen: new Set(), touched: new Map() };
}

/** Notes a delta that arrived while a sync runs. */
export function noteModelDelta(sync: ModelSync, upserted: readonly ModelKey[], removed: readonly ModelKey[]): void {
  for (const m of upserted) {
    sync.touched.set(modelKey(m), true);
  }
  for (const k of removed) {
    sync.touched.set(modelKey(k), false);
  }
}

/** A page merged into the list: its models replace or add theirs, except those a delta touched meanwhile. */
export function applyModelPage(models: readonly ModelView[], page: readonly ModelView[], sync: ModelSync): ModelView[] {
  const fresh: ModelView[] = [];
  for (const m of page) {
    const key = modelKey(m);
    sync.seen.add(key);
    if (!sync.touched.has(key)) {
      fresh.push(m);
    }
  }
  return applyModelChanges(models, fresh);
}

/** After the last page: models neither in any page nor added by a delta are gone. */
export function finishModelSync(models: readonly ModelView[], sync: ModelSync): ModelView[] {
  const kept = models.filter((m) => {
    const key = modelKey(m);
    return sync.seen.has(key) || sync.touched.get(key) === true;
  });
  return kept.length === models.length ? (models as ModelView[]) : kept;
}
