import { z } from 'zod';
import { RevisionSchema, ServerConfigSchema } from './config.js';
import { LlamaStatusSchema } from './llama.js';
import { CatalogueSchema, ModelIdSchema, ModelStateSchema } from './models.js';
import { PresetDocumentSchema } from './presets.js';
import { ErrorCode, isErrorCode, type ErrorInfo } from './errors.js';

/** BullMQ key prefix shared by every queue of the project. */
export const QUEUE_PREFIX = 'llamaproxy';

/**
 * Control jobs go to one queue per supervisor node, so several GPU hosts can attach to one
 * gateway. BullMQ queue names cannot contain ':'.
 */
export function controlQueueName(nodeId: string): string {
  return `control-${nodeId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** Names of the control jobs: `domain.action`. */
export const JobName = {
  modelLoad: 'model.load',
  modelUnload: 'model.unload',
  serverStart: 'server.start',
  serverStop: 'server.stop',
  serverRestart: 'server.restart',
  configApply: 'config.apply',
  presetApply: 'preset.apply',
  modelsRescan: 'models.rescan',
  /** Removes a model's files from the models directory (admin; refused while it is loaded). */
  modelDelete: 'model.delete',
} as const;
export type JobName = (typeof JobName)[keyof typeof JobName];

const Empty = z.object({}).strict();

/** The one map that producers (gateway) and the worker (supervisor) share. */
export const JobPayloadSchemas = {
  [JobName.modelLoad]: z.object({ modelId: ModelIdSchema }).strict(),
  [JobName.modelUnload]: z.object({ modelId: ModelIdSchema }).strict(),
  [JobName.serverStart]: Empty,
  [JobName.serverStop]: Empty,
  [JobName.serverRestart]: Empty,
  /** `revision`: the stored configuration's revision this job applies (the supervisor never goes back). */
  [JobName.configApply]: z.object({ config: ServerConfigSchema, revision: RevisionSchema }).strict(),
  [JobName.presetApply]: z.object({ preset: PresetDocumentSchema, revision: RevisionSchema }).strict(),
  [JobName.modelsRescan]: Empty,
  [JobName.modelDelete]: z.object({ modelId: ModelIdSchema }).strict(),
} as const;

export type JobPayloads = { [K in JobName]: z.infer<(typeof JobPayloadSchemas)[K]> };

/** Progress reported through `job.updateProgress`. */
export const JobProgressSchema = z.object({
  /** 0..1 overall. */
  value: z.number().min(0).max(1),
  stage: z.string(),
  message: z.string().nullable(),
});
export type JobProgress = z.infer<typeof JobProgressSchema>;

export const JobResultSchemas = {
  [JobName.modelLoad]: z.object({ model: ModelStateSchema }),
  [JobName.modelUnload]: z.object({ model: ModelStateSchema }),
  [JobName.serverStart]: z.object({ status: LlamaStatusSchema }),
  [JobName.serverStop]: z.object({ status: LlamaStatusSchema }),
  [JobName.serverRestart]: z.object({ status: LlamaStatusSchema }),
  /** `superseded`: a newer revision was applied already, so this one was skipped. */
  [JobName.configApply]: z.object({ status: LlamaStatusSchema, revision: RevisionSchema, superseded: z.boolean() }),
  [JobName.presetApply]: z.object({ path: z.string(), revision: RevisionSchema, superseded: z.boolean() }),
  [JobName.modelsRescan]: z.object({ catalogue: CatalogueSchema }),
  /** `removed`: what was deleted, relative to the models directory (the model's file or folder). */
  [JobName.modelDelete]: z.object({ modelId: ModelIdSchema, removed: z.string() }),
} as const;

export type JobResults = { [K in JobName]: z.infer<(typeof JobResultSchemas)[K]> };

/**
 * The intent key of a job: the same intent maps to the same key, so a double click does not load
 * twice. Model jobs are keyed by model, document jobs by their content (a different configuration
 * is a different intent), the rest by name. It is the job's BullMQ *deduplication* id, which holds
 * only while a job with that key is waiting, delayed or active: once it completed or failed, the
 * same request runs again (a failed load can be retried).
 * BullMQ ids cannot contain ':' and must not be integers.
 */
export function controlJobId<K extends JobName>(name: K, payload: JobPayloads[K]): string {
  let subject = '';
  if ('modelId' in payload) {
    subject = `-${encodeURIComponent(payload.modelId)}`;
  } else if ('config' in payload) {
    subject = `-${fnv1a(JSON.stringify(payload.config))}`;
  } else if ('preset' in payload) {
    subject = `-${fnv1a(JSON.stringify(payload.preset))}`;
  }
  return `${name}${subject}`.replace(/:/g, '%3A');
}

/**
 * The id of one run of an intent: `<intent key>.<time base36><random>`. Unique, so an outcome is
 * stored once per run (keyed by this id) and a finished run never blocks the next one.
 */
export function controlRunId(intentKey: string, now = Date.now(), random: () => number = Math.random): string {
  const nonce = Math.floor(random() * 36 ** 6).toString(36).padStart(6, '0');
  return `${intentKey}.${now.toString(36)}${nonce}`;
}

/** The intent key a run id was made from (see controlRunId). */
export function intentKeyOf(runId: string): string {
  const dot = runId.lastIndexOf('.');
  return dot > 0 ? runId.slice(0, dot) : runId;
}

/**
 * How long one attempt of each job may run before it fails with TIMEOUT (ms). A load reads a
 * model from disk (minutes for a large one on a slow disk); a restart includes the start timeout.
 */
export const JOB_TIMEOUT_MS = {
  [JobName.modelLoad]: 10 * 60_000,
  [JobName.modelUnload]: 2 * 60_000,
  [JobName.serverStart]: 3 * 60_000,
  [JobName.serverStop]: 2 * 60_000,
  [JobName.serverRestart]: 5 * 60_000,
  [JobName.configApply]: 5 * 60_000,
  [JobName.presetApply]: 2 * 60_000,
  [JobName.modelsRescan]: 2 * 60_000,
  [JobName.modelDelete]: 2 * 60_000,
} as const satisfies Record<JobName, number>;

/**
 * Retries for transient failures (llama-server restarting, a lost connection): attempts in all,
 * with exponential backoff from `backoffMs` (2 s, 4 s). Bad input fails at once (UnrecoverableError).
 */
export const JOB_RETRY = { attempts: 3, backoffMs: 2000 } as const;

/** Finished jobs BullMQ keeps (count, and age in seconds), so a gateway can read an outcome it missed. */
export const JOB_RETENTION = {
  completed: { count: 1000, age: 24 * 3600 },
  failed: { count: 1000, age: 7 * 24 * 3600 },
} as const;

/**
 * Longest a job can take from being queued to a final state (ms): every attempt at its timeout,
 * the backoff between them, and a margin for a worker that died to be noticed. Beyond it the
 * gateway fails the job as TIMEOUT.
 */
export function jobDeadlineMs(name: JobName): number {
  let backoff = 0;
  for (let i = 1; i < JOB_RETRY.attempts; i++) {
    backoff += JOB_RETRY.backoffMs * 2 ** (i - 1);
  }
  return JOB_TIMEOUT_MS[name] * JOB_RETRY.attempts + backoff + 60_000;
}

/** 32-bit FNV-1a as 8 hex digits: a stable content key, not a security hash. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

export function isJobName(value: string): value is JobName {
  return Object.values<string>(JobName).includes(value);
}

/**
 * BullMQ keeps only a message for a failed job, so the error code travels in it as
 * `CODE: message`. The gateway decodes it back into `{ code, message }`.
 */
export function encodeJobError(info: ErrorInfo): string {
  return `${info.code}: ${info.message}`;
}

export function decodeJobError(failedReason: string | undefined): ErrorInfo {
  const m = /^([A-Z][A-Z_]+): ([\s\S]*)$/.exec(failedReason ?? '');
  if (m?.[1] !== undefined && m[2] !== undefined && isErrorCode(m[1])) {
    return { code: m[1], message: m[2] };
  }
  return { code: ErrorCode.JOB_FAILED, message: failedReason || 'job failed' };
}
