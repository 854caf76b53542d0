/**
 * The socket side of placement settings (issue #14, gateway and web): what `placement:update`
 * accepts and what `placement:get`, the snapshot and `placement:updated` carry. The settings
 * document itself and its meaning are in placement.ts.
 */
import { z } from 'zod';
import { RevisionSchema } from './config.js';
import { ModelIdSchema } from './models.js';
import { ModelPlacementSettingsSchema, TtlSecondsSchema, type PlacementSettings } from './placement.js';

/** Most models one `placement:update` may change. */
export const MAX_PLACEMENT_MODELS_PER_UPDATE = 256;

/**
 * A change of the placement settings: the global default TTL and/or some models' settings
 * (`null` puts a model back to the defaults). Sent under the document's revision (CONFLICT when
 * stale, with the current document).
 */
export const PlacementUpdateSchema = z.object({
  defaultTtlSeconds: TtlSecondsSchema.optional(),
  models: z
    .record(ModelIdSchema, ModelPlacementSettingsSchema.nullable())
    .refine((m) => Object.keys(m).length <= MAX_PLACEMENT_MODELS_PER_UPDATE, `at most ${MAX_PLACEMENT_MODELS_PER_UPDATE} models per update`)
    .optional(),
  revision: RevisionSchema,
});
export type PlacementUpdate = z.infer<typeof PlacementUpdateSchema>;

/** The stored placement settings and their revision (`placement:get`, snapshot, `placement:updated`). */
export interface PlacementSettingsDoc {
  settings: PlacementSettings;
  /** 0 before the first change. */
  revision: number;
}
