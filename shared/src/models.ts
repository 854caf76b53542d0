import { z } from 'zod';

/** Model ids are what llama-server's router calls a model (file name without `.gguf`). */
export const ModelIdSchema = z
  .string()
  .min(1, 'model id is empty')
  .max(512, 'model id is longer than 512 characters')
  .refine((s) => !s.includes('\0'), 'model id contains a NUL byte');

export const ModelStatusValue = {
  unloaded: 'unloaded',
  loading: 'loading',
  loaded: 'loaded',
  sleeping: 'sleeping',
  error: 'error',
} as const;
export type ModelStatusValue = (typeof ModelStatusValue)[keyof typeof ModelStatusValue];
export const ModelStatusValueSchema = z.enum(ModelStatusValue);

/** Why a model is in `error`: the exit code of its instance and the log lines that explain it. */
export const ModelErrorSchema = z.object({
  message: z.string(),
  exitCode: z.number().int().nullable(),
  logTail: z.array(z.string()),
});
export type ModelError = z.infer<typeof ModelErrorSchema>;

/** The live state of one model as llama-server's router reports it. */
export const ModelStateSchema = z.object({
  id: ModelIdSchema,
  status: ModelStatusValueSchema,
  /** 0..1 while loading, null otherwise. */
  progress: z.number().min(0).max(1).nullable(),
  /** Current load stage (`text_model`, `mmproj_model`, ...) while loading. */
  stage: z.string().nullable(),
  /** Arguments the instance runs (or last ran) with. */
  args: z.array(z.string()),
  error: ModelErrorSchema.nullable(),
  /**
   * What the router reported that is not an error of ours to show, e.g. a failure recorded for a
   * model that has not run since llama-server started. Absent from older supervisors.
   */
  note: z.string().nullable().optional(),
  updatedAt: z.number(),
});
export type ModelState = z.infer<typeof ModelStateSchema>;

export const ModelLayout = {
  single: 'single',
  multimodal: 'multimodal',
  multiShard: 'multi-shard',
} as const;
export type ModelLayout = (typeof ModelLayout)[keyof typeof ModelLayout];

/** One entry of the supervisor's catalogue of its models directory. */
export const CatalogueEntrySchema = z.object({
  id: ModelIdSchema,
  /** Path of the main GGUF file, relative to the models directory. */
  path: z.string(),
  layout: z.enum(ModelLayout),
  /** Every file that belongs to the model (shards, mmproj), relative to the models directory. */
  files: z.array(z.string()),
  mmproj: z.string().nullable(),
  /** The draft model (`mtp-…`, `dspark-…`, `dflash-…` beside it in its folder) the router passes, relative. */
  draft: z.string().nullable().optional(),
  /** Total and present shards of a split model (`…-00001-of-00003.gguf`); absent for one file. */
  split: z.object({ count: z.number().int().positive(), present: z.array(z.number().int().positive()) }).optional(),
  sizeBytes: z.number().int().nonnegative(),
  modifiedAt: z.number(),
  valid: z.boolean(),
  /** Why the model cannot load (e.g. "shard 3 of 3 missing"), when `valid` is false. */
  invalidReason: z.string().nullable(),
  architecture: z.string().nullable(),
  name: z.string().nullable(),
  quantization: z.string().nullable(),
  parameterCount: z.number().int().nonnegative().nullable(),
  contextLength: z.number().int().nonnegative().nullable(),
});
export type CatalogueEntry = z.infer<typeof CatalogueEntrySchema>;

export const CatalogueSchema = z.object({
  nodeId: z.string(),
  modelsDir: z.string(),
  scannedAt: z.number(),
  entries: z.array(CatalogueEntrySchema),
  /** Directory entries the router cannot read either (a dangling link), with why; absent from older supervisors. */
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })).optional(),
});
export type Catalogue = z.infer<typeof CatalogueSchema>;
