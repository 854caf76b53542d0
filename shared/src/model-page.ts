/**
 * Paging of the model list: a models directory may hold thousands of models, so clients get a
 * first page in the snapshot, the rest with `models:list` pages (keyset cursor, optional search
 * text), and `models:changed` / `models:status` / `models:states` deltas after that.
 */
import { z } from 'zod';

/** Models in a snapshot's first page (the rest comes through `models:list` pages). */
export const MODEL_FIRST_PAGE = 200;
/** Largest (and default) page of `models:list`. */
export const MODEL_PAGE_MAX = 5000;

/** Which model: a model id is unique within its node. */
export const ModelKeySchema = z.object({ nodeId: z.string().min(1).max(256), id: z.string().min(1).max(512) });
export type ModelKey = z.infer<typeof ModelKeySchema>;

/** The cursor of `models:list`: the key of the last model of the previous page, opaque to clients. */
export const ModelCursorSchema = z.string().min(1).max(1100);

/**
 * The query of `models:list` (besides `requestId`): models after `cursor` in key order (node id,
 * then model id, by code point), at most `limit`; with `text`, only models whose id, name,
 * architecture, quantization or path contains it (case-insensitive for ASCII).
 */
export const ModelListQuerySchema = z.object({
  cursor: ModelCursorSchema.optional(),
  limit: z.number().int().min(1).max(MODEL_PAGE_MAX).default(MODEL_PAGE_MAX),
  text: z.string().max(512).optional(),
});
export type ModelListQuery = z.output<typeof ModelListQuerySchema>;

/** The cursor that continues after `key`. */
export function encodeModelCursor(key: ModelKey): string {
  return JSON.stringify([key.nodeId, key.id]);
}

const CursorTuple = z.tuple([z.string(), z.string()]);

/** The key a cursor continues after; null when it is not one of ours (the gateway answers VALIDATION_FAILED). */
export function decodeModelCursor(cursor: string): ModelKey | null {
  try {
    const parsed = CursorTuple.safeParse(JSON.parse(cursor));
    return parsed.success ? { nodeId: parsed.data[0], id: parsed.data[1] } : null;
  } catch {
    return null;
  }
}

/** `nodeId/id`: the key as one string, for maps. */
export function modelKeyString(key: ModelKey): string {
  return `${key.nodeId}/${key.id}`;
}

/** Orders keys as the gateway pages them (node id, then id, by UTF-16 code unit as SQLite's BINARY for ASCII). */
export function compareModelKeys(a: ModelKey, b: ModelKey): number {
  if (a.nodeId !== b.nodeId) {
    return a.nodeId < b.nodeId ? -1 : 1;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
