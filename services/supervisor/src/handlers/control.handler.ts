import { UnrecoverableError, type Job } from 'bullmq';
import {
  AppError,
  ErrorCode,
  encodeJobError,
  isJobName,
  JOB_TIMEOUT_MS,
  JobName,
  JobPayloadSchemas,
  toErrorInfo,
  type JobPayloads,
  type JobProgress,
  type JobResults,
} from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { LlamaSupervisor } from '../services/llama-supervisor.js';

/** Bad input: retrying cannot help, so the job fails at once. */
const UNRECOVERABLE = new Set<string>([
  ErrorCode.VALIDATION_FAILED,
  ErrorCode.MODEL_NOT_FOUND,
  ErrorCode.MODEL_INVALID,
  ErrorCode.INVALID_ARGUMENT,
  ErrorCode.PRESET_INVALID,
  ErrorCode.CONFIG_INVALID,
  ErrorCode.ARG_NOT_ALLOWED,
  ErrorCode.MODEL_LOADED,
  ErrorCode.PATH_OUTSIDE_MODELS_DIR,
  // An attempt that ran out of time would only run out of time again.
  ErrorCode.TIMEOUT,
  // The caller is told at once what holds the memory; a retry would evict nothing more.
  ErrorCode.INSUFFICIENT_MEMORY,
]);

/** Documents applied in revision order. */
type DocumentKind = 'config' | 'preset';

type Handlers = { [K in JobName]: (payload: JobPayloads[K], job: Job) => Promise<JobResults[K]> };

/**
 * Thin adapter from BullMQ control jobs to the supervisor. Every handler is idempotent (loading a
 * loaded model, starting a running server succeed at once), so a retry or a job run twice after a
 * lost lock does no harm. Each attempt fails with TIMEOUT after JOB_TIMEOUT_MS. Configuration and
 * preset jobs are applied one at a time per document and in revision order: one older than the
 * newest applied is skipped (`superseded`), so two quick edits can never end with the older one.
 */
export class ControlHandler {
  private readonly supervisor: LlamaSupervisor;
  private readonly log: Logger;
  private readonly handlers: Handlers;
  private readonly timeouts: Record<JobName, number>;
  /** Newest revision applied per document (this process: a new supervisor applies what it gets). */
  private readonly applied = new Map<DocumentKind, number>();
  /** Per document: the tail of the chain that serialises its jobs. */
  private readonly chains = new Map<DocumentKind, Promise<unknown>>();

  constructor(supervisor: LlamaSupervisor, logger: Logger, options: { timeouts?: Partial<Record<JobName, number>> } = {}) {
    this.supervisor = supervisor;
    this.log = logger.child({ module: 'control-handler' });
    this.timeouts = { ...JOB_TIMEOUT_MS, ...options.timeouts };
    this.handlers = {
      [JobName.modelLoad]: async ({ modelId }, job) => ({
        model: await this.supervisor.loadModel(modelId, (state) => {
          void progress(job, { value: state.progress ?? 0, stage: state.stage ?? 'loading', message: null });
        }),
      }),
      [JobName.modelUnload]: async ({ modelId }) => ({ model: await this.supervisor.unloadModel(modelId) }),
      [JobName.serverStart]: async () => ({ status: await this.supervisor.start() }),
      [JobName.serverStop]: async () => ({ status: await this.supervisor.stop() }),
      [JobName.serverRestart]: async (_p, job) => {
        await progress(job, { value: 0, stage: 'restarting', message: null });
        return { status: await this.supervisor.restart() };
      },
      [JobName.configApply]: async ({ config, revision }, job) =>
        this.inOrder('config', revision, async () => {
          await progress(job, { value: 0, stage: 'restarting', message: 'applying configuration' });
          return { status: await this.supervisor.applyConfig(config) };
        }, () => ({ status: this.supervisor.status })),
      [JobName.presetApply]: async ({ preset, revision }) =>
        this.inOrder('preset', revision, async () => ({ path: await this.supervisor.applyPreset(preset) }), () => ({ path: '' })),
      [JobName.modelsRescan]: async () => ({ catalogue: await this.supervisor.rescan() }),
      [JobName.modelDelete]: async ({ modelId }) => ({ modelId, removed: await this.supervisor.deleteModel(modelId, this.supervisor.currentConfig.modelsDir) }),
    };
  }

  /** The BullMQ processor. */
  process = async (job: Job): Promise<unknown> => {
    const started = Date.now();
    try {
      if (!isJobName(job.name)) {
        throw new AppError(ErrorCode.VALIDATION_FAILED, `unknown job "${job.name}"`);
      }
      const result = await withTimeout(this.run(job.name, job), this.timeouts[job.name], `${job.name} took longer than ${this.timeouts[job.name] / 1000} s`);
      this.log.info('job done', { job: job.name, id: job.id, ms: Date.now() - started });
      return result;
    } catch (err) {
      const info = toErrorInfo(err);
      if (info.code === ErrorCode.INTERNAL) {
        this.log.error('job failed unexpectedly', { job: job.name, id: job.id, error: (err as Error).message, stack: (err as Error).stack });
      } else {
        this.log.warn('job failed', { job: job.name, id: job.id, code: info.code, error: info.message });
      }
      const message = encodeJobError(info);
      throw UNRECOVERABLE.has(info.code) ? new UnrecoverableError(message) : new Error(message);
    }
  };

  private async run<K extends JobName>(name: K, job: Job): Promise<JobResults[K]> {
    const parsed = JobPayloadSchemas[name].safeParse(job.data);
    if (!parsed.success) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, `${name}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
    }
    const handler = this.handlers[name] as (payload: unknown, job: Job) => Promise<JobResults[K]>;
    return handler(parsed.data, job);
  }


  /**
   * Runs `apply` for `revision` of a document after every earlier job of that document, unless a
   * newer revision was applied already: then `skipped()` answers, marked superseded.
   */
  private inOrder<T extends object>(kind: DocumentKind, revision: number, apply: () => Promise<T>, skipped: () => T): Promise<T & { revision: number; superseded: boolean }> {
    const run = async (): Promise<T & { revision: number; superseded: boolean }> => {
      const newest = this.applied.get(kind) ?? -1;
      if (revision <= newest) {
        this.log.info('skipping a superseded change', { document: kind, revision, applied: newest });
        return { ...skipped(), revision, superseded: true };
      }
      const result = await apply();
      this.applied.set(kind, revision);
      return { ...result, revision, superseded: false };
    };
    const next = (this.chains.get(kind) ?? Promise.resolve()).then(run, run);
    this.chains.set(kind, next.catch(() => undefined));
    return next;
  }
}

/** Rejects with TIMEOUT after `ms` (the work itself is not stopped; its outcome is ignored). */
async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError(ErrorCode.TIMEOUT, message)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function progress(job: Job, value: JobProgress): Promise<void> {
  await job.updateProgress(value).catch(() => undefined);
}
