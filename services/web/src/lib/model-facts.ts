/**
 * What the models table says about a catalogue entry beside its name: the files that travel with
 * it (projector, drafter) and its split set. Pure, so it is tested without a DOM.
 */
import type { ModelView, SkippedFile } from '@llamaproxy/shared';

type Catalogued = Pick<ModelView, 'mmproj' | 'draft' | 'split'>;

/**
 * "3 shards" for a complete split set, "2 of 3 shards" when some are missing (the model cannot
 * load then; the catalogue's reason names the missing one); null for a model in one file.
 */
export function shardsText(split: Catalogued['split']): string | null {
  if (split === undefined || split.count <= 1) {
    return null;
  }
  const present = new Set(split.present.filter((n) => n >= 1 && n <= split.count)).size;
  return present >= split.count ? `${split.count} shards` : `${present} of ${split.count} shards`;
}

/** The companions the router passes with the model: projector (`--mmproj`) and drafter (`--model-draft`). */
export function companionFacts(m: Catalogued): string[] {
  return [m.mmproj === null ? null : `projector ${m.mmproj}`, m.draft === null || m.draft === undefined ? null : `drafter ${m.draft}`].filter((f): f is string => f !== null);
}

/** Every fact, in the order shown: split set, projector, drafter. */
export function modelFacts(m: Catalogued): string[] {
  const shards = shardsText(m.split);
  return [...(shards === null ? [] : [shards]), ...companionFacts(m)];
}

/**
 * The line above the list of files the catalogue scan passed over: "2 files in the models
 * directory skipped by the scan" (one node), with the nodes named when several report some;
 * null when there is nothing to say.
 */
export function skippedSummary(skipped: readonly SkippedFile[]): string | null {
  if (skipped.length === 0) {
    return null;
  }
  const nodes = new Set(skipped.map((s) => s.nodeId));
  const files = skipped.length === 1 ? '1 file' : `${skipped.length} files`;
  return `${files} in the models ${nodes.size === 1 ? 'directory' : `directories of ${[...nodes].sort().join(', ')}`} skipped by the scan`;
}

/** One skipped file as a line: "broken-link.gguf: dangling symlink", prefixed with its node when several. */
export function skippedLine(entry: SkippedFile, severalNodes: boolean): string {
  return `${severalNodes ? `${entry.nodeId}: ` : ''}${entry.path}: ${entry.reason}`;
}
