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
  | { kind: 'evicts'; evict: string[]; waitFor: string[]; fromFileSize?: boolean }
  /** Cannot fit: the supervisor would refuse with INSUFFICIENT_MEMORY and this message. */
  | { kind: 'refused'; message: string; fromFileSize?: boolean };

/**
 * The preview of loading `modelId` on `nodeId`. `fileBytes` (the catalogue's size of the model's
 * files) stands in for a footprint the node has not estimated yet (it estimates a large catalogue
 * lazily, at a model's first load): the weights, on the node's first GPU or else in RAM. Such a
 * preview says so (`fromFileSize`), since KV cache and buffers come on top.
 */
export function loadPreview(reports: readonly MemoryReport[], nodeId: string, modelId: string, fileBytes: number | null = null): LoadPreview {
  const report = reports.find((r) => r.nodeId === nodeId);
  if (report === undefined || report.mode !== 'memory') {
    return { kind: 'unknown' };
  }
  let footprint = footprintFor(report, modelId);
  const fromFileSize = footprint === null && fileBytes !== null && fileBytes > 0;
  if (footprint === null && fromFileSize) {
    const device = report.devices.find((d) => d.kind === 'gpu') ?? report.devices.find((d) => d.kind === 'ram');
    footprint = device === undefined ? null : { [device.id]: fileBytes };
  }
  if (footprint === null) {
    return { kind: 'unknown' };
  }
  const plan = planPlacement(report, modelId, footprint);
  const approximate = fromFileSize ? { fromFileSize: true } : {};
  if (!plan.fits) {
    return { kind: 'refused', message: plan.message ?? `${modelId} does not fit`, ...approximate };
  }
  return plan.evict.length === 0 ? { kind: 'fits' } : { kind: 'evicts', evict: plan.evict, waitFor: plan.waitFor, ...approximate };
}

/** One sentence for the Load button's confirmation, or null when there is nothing to tell. */
export function loadPreviewText(modelId: string, preview: LoadPreview): string | null {
  switch (preview.kind) {
    case 'unknown':
    case 'fits':
      return null;
    case 'evicts': {
      const busy = preview.waitFor.length === 0 ? '' : ` (${preview.waitFor.join(', ')} first finish${preview.waitFor.length === 1 ? 'es' : ''} ${preview.waitFor.length === 1 ? 'its' : 'their'} requests)`;
      return `Loading ${modelId} unloads ${preview.evict.join(', ')} to make room (least recently used first)${busy}.${sizeNote(preview)}`;
    }
    case 'refused':
      return `${modelId} cannot be loaded: ${preview.message}.${sizeNote(preview)}`;
  }
}

function sizeNote(preview: { fromFileSize?: boolean }): string {
  return preview.fromFileSize === true ? ' (Judged by its file size: it has not been estimated yet.)' : '';
}
