/**
 * What a click on Load would do under memory-aware placement (issue #14), told before it acts:
 * the same `planPlacement` the supervisor runs, against the node's newest memory report. Imports
 * runtime values from the shared package (zod): only the lazily loaded Models page uses it.
 */
import { footprintFor, planPlacement, type MemoryReport } from '@llamaproxy/shared';

export type LoadPreview =
  /** No preview: count mode, no report from the node yet, or no footprint known for the model. */
  | { kind: 'unknown' }
  /** Fits in the free room, or is loaded already. */
  | { kind: 'fits' }
  /** Fits once `evict` are unloaded (least recently used first); `waitFor` are serving requests now. */
  | { kind: 'evicts'; evict: string[]; waitFor: string[] }
  /** Cannot fit: the supervisor would refuse with INSUFFICIENT_MEMORY and this message. */
  | { kind: 'refused'; message: string };

/** The preview of loading `modelId` on `nodeId`. */
export function loadPreview(reports: readonly MemoryReport[], nodeId: string, modelId: string): LoadPreview {
  const report = reports.find((r) => r.nodeId === nodeId);
  if (report === undefined || report.mode !== 'memory') {
    return { kind: 'unknown' };
  }
  const footprint = footprintFor(report, modelId);
  if (footprint === null) {
    return { kind: 'unknown' };
  }
  const plan = planPlacement(report, modelId, footprint);
  if (!plan.fits) {
    return { kind: 'refused', message: plan.message ?? `${modelId} does not fit` };
  }
  return plan.evict.length === 0 ? { kind: 'fits' } : { kind: 'evicts', evict: plan.evict, waitFor: plan.waitFor };
}

/** One sentence for the Load button's confirmation, or null when there is nothing to tell. */
export function loadPreviewText(modelId: string, preview: LoadPreview): string | null {
  switch (preview.kind) {
    case 'unknown':
    case 'fits':
      return null;
    case 'evicts': {
      const busy = preview.waitFor.length === 0 ? '' : ` (${preview.waitFor.join(', ')} first finish${preview.waitFor.length === 1 ? 'es' : ''} ${preview.waitFor.length === 1 ? 'its' : 'their'} requests)`;
      return `Loading ${modelId} unloads ${preview.evict.join(', ')} to make room (least recently used first)${busy}.`;
    }
    case 'refused':
      return `${modelId} cannot be loaded: ${preview.message}.`;
  }
}
