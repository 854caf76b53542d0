import type { ConflictCurrent, ErrorCode } from '@llamaproxy/shared';
import { RequestError } from './transport.js';

/**
 * The shared `ErrorCode.CONFLICT`, as a typed literal: this module is reachable from the eager
 * bundle (the theme toggle), which may import only types from `@llamaproxy/shared`.
 */
const CONFLICT = 'CONFLICT' satisfies ErrorCode;

/** What the user chose when their edit met a newer revision. */
export type ConflictChoice = 'overwrite' | 'reload';

/** The stored document a CONFLICT answer carried; null for any other error. */
export function conflictOf(error: unknown): ConflictCurrent | null {
  return error instanceof RequestError && error.code === CONFLICT ? (error.current ?? null) : null;
}

/**
 * Sends an update of a revisioned document under the revision the user edited. When someone else
 * changed it first (CONFLICT), `ask` decides: `overwrite` sends the same edit again under the
 * current revision (once; a second conflict is reported), `reload` hands the current document to
 * `onReload` and rejects with a CONFLICT saying so (so the caller's toast explains what happened).
 */
export async function sendRevisioned<T>(
  revision: number,
  send: (revision: number) => Promise<T>,
  ask: (current: ConflictCurrent) => ConflictChoice,
  onReload: (current: ConflictCurrent) => void,
): Promise<T> {
  try {
    return await send(revision);
  } catch (error) {
    const current = conflictOf(error);
    if (current === null) {
      throw error;
    }
    if (ask(current) === 'overwrite') {
      return send(current.revision);
    }
    onReload(current);
    throw new RequestError({ code: CONFLICT, message: 'someone else changed it first; their version is shown now', current });
  }
}

/** The browser's way to ask: OK overwrites, Cancel reloads. */
export function confirmConflict(what: string): (current: ConflictCurrent) => ConflictChoice {
  return () =>
    confirm(`${what} was changed by someone else while you edited it.\n\nOK: overwrite it with your version.\nCancel: discard your edit and show theirs.`)
      ? 'overwrite'
      : 'reload';
}
