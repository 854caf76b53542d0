import type { StateManager } from '../core/state-manager.js';
import { buildArgIndex, type ArgIndex } from './arg-check.js';

let cached: Promise<ArgIndex | null> | null = null;

/** Pages do not wait longer than this for the catalogue (it is queued while offline). */
const WAIT_MS = 5000;

/**
 * llama-server's argument catalogue, fetched once per page load. Null while no supervisor has
 * reported one (llama-server never started); then the next call asks again.
 */
export function loadArgIndex(store: StateManager): Promise<ArgIndex | null> {
  if (cached === null) {
    const request = Promise.race([
      store
        .request('llama:args', {})
        .then((r) => (r.catalogue === null ? null : buildArgIndex(r.catalogue.args, r.catalogue.policy ?? null)))
        .catch(() => null),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), WAIT_MS)),
    ]);
    cached = request;
    void request.then((index) => {
      if (index === null && cached === request) {
        cached = null;
      }
    });
  }
  return cached;
}
