/**
 * What the models table says about a catalogue entry beside its name: the files that travel with
 * it (projector, drafter) and its split set. Pure, so it is tested without a DOM.
 */
import type { ModelView } from '@llamaproxy/shared';

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
