import { z } from 'zod';

/** Lifecycle of the llama-server process owned by a supervisor. */
export const LlamaProcessState = {
  stopped: 'stopped',
  starting: 'starting',
  running: 'running',
  stopping: 'stopping',
  /** Exited unexpectedly; a restart is scheduled with backoff. */
  crashed: 'crashed',
  /** Could not be started with the current configuration; waits for a new one. */
  failed: 'failed',
} as const;
export type LlamaProcessState = (typeof LlamaProcessState)[keyof typeof LlamaProcessState];

export const LlamaExitSchema = z.object({
  code: z.number().int().nullable(),
  signal: z.string().nullable(),
  at: z.number(),
  logTail: z.array(z.string()),
});
export type LlamaExit = z.infer<typeof LlamaExitSchema>;

export const LlamaStatusSchema = z.object({
  nodeId: z.string(),
  state: z.enum(LlamaProcessState),
  pid: z.number().int().nullable(),
  /** Base URL of the router's HTTP API, as the supervisor reaches it. */
  url: z.string().nullable(),
  startedAt: z.number().nullable(),
  /** Restarts after crashes since the supervisor started. */
  restarts: z.number().int().nonnegative(),
  /** When the next automatic restart happens (state `crashed`). */
  nextRestartAt: z.number().nullable(),
  lastExit: LlamaExitSchema.nullable(),
  args: z.array(z.string()),
  updatedAt: z.number(),
});
export type LlamaStatus = z.infer<typeof LlamaStatusSchema>;

/** One argument of the llama-server binary, parsed from its `--help`. */
export const LlamaArgSchema = z.object({
  /** Long flags and short forms as written, e.g. ["-c", "--ctx-size"]. */
  flags: z.array(z.string()),
  /** Preset key: the first long flag without dashes, e.g. "ctx-size". */
  key: z.string(),
  /** Negative form for booleans, e.g. "--no-mmap". */
  negation: z.string().nullable(),
  env: z.string().nullable(),
  valueType: z.enum(['flag', 'int', 'float', 'string', 'enum']),
  /** Placeholder from the help text, e.g. "N", "FNAME", "{on,off,auto}". */
  valueHint: z.string().nullable(),
  choices: z.array(z.string()).nullable(),
  default: z.string().nullable(),
  help: z.string(),
  section: z.string(),
});
export type LlamaArg = z.infer<typeof LlamaArgSchema>;

/** The flag policy a supervisor enforces (see arg-policy.ts), published so others check the same. */
export const ArgPolicyInfoSchema = z.object({
  /** The models directory as llama-server sees it; path values must lie inside. */
  modelsDir: z.string(),
  /** Keys the operator allowed through the supervisor's `LLAMA_ALLOW_ARGS`. */
  allow: z.array(z.string()),
});
export type ArgPolicyInfo = z.infer<typeof ArgPolicyInfoSchema>;

export const LlamaArgCatalogueSchema = z.object({
  nodeId: z.string(),
  version: z.string().nullable(),
  args: z.array(LlamaArgSchema),
  /** Absent from supervisors older than the flag policy. */
  policy: ArgPolicyInfoSchema.optional(),
});
export type LlamaArgCatalogue = z.infer<typeof LlamaArgCatalogueSchema>;
