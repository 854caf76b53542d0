import { z } from 'zod';
import { ServerConfigSchema } from './config.js';
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
  [JobName.configApply]: z.object({ config: ServerConfigSchema }).strict(),
  [JobName.presetApply]: z.object({ preset: PresetDocumentSchema }).strict(),
  [JobName.modelsRescan]: Empty,
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
  [JobName.configApply]: z.object({ status: LlamaStatusSchema }),
  [JobName.presetApply]: z.object({ path: z.string() }),
  [JobName.modelsRescan]: z.object({ catalogue: CatalogueSchema }),
} as const;

export type JobResults = { [K in JobName]: z.infer<(typeof JobResultSchemas)[K]> };

/**
 * Deterministic job ids: the same intent while one is pending maps to the same id, so a double
 * click does not load twice. Model jobs are keyed by model, configuration jobs by their content
 * (a different configuration is a different intent), the rest by name.
 * BullMQ ids cannot contain ':' and must not be integers.
 */
export function controlJobId<K extends JobName>(name: K, payload: JobPayloads[K]): string {
  let subject = '';
  if ('modelId' in payload) {
    subject = `-${encodeURIComponent(payload.modelId)}`;
  } else if ('config' in payload || 'preset' in payload) {
    subject = `-${fnv1a(JSON.stringify(payload))}`;
  }
  return `${name}${subject}`.replace(/:/g, '%3A');
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
