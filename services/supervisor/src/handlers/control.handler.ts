import { UnrecoverableError, type Job } from 'bullmq';
import {
  AppError,
  ErrorCode,
  encodeJobError,
  isJobName,
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
]);

type Handlers = { [K in JobName]: (payload: JobPayloads[K], job: Job) => Promise<JobResults[K]> };

/** Thin adapter from BullMQ control jobs to the supervisor. */
export class ControlHandler {
  private readonly supervisor: LlamaSupervisor;
  private readonly log: Logger;
  private readonly handlers: Handlers;

  constructor(supervisor: LlamaSupervisor, logger: Logger) {
    this.supervisor = supervisor;
    this.log = logger.child({ module: 'control-handler' });
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
      [JobName.configApply]: async ({ config }, job) => {
        await progress(job, { value: 0, stage: 'restarting', message: 'applying configuration' });
        return { status: await this.supervisor.applyConfig(config) };
      },
      [JobName.presetApply]: async ({ preset }) => ({ path: await this.supervisor.applyPreset(preset) }),
      [JobName.modelsRescan]: async () => ({ catalogue: await this.supervisor.rescan() }),
    };
  }

  /** The BullMQ processor. */
  process = async (job: Job): Promise<unknown> => {
    const started = Date.now();
    try {
      if (!isJobName(job.name)) {
        throw new AppError(ErrorCode.VALIDATION_FAILED, `unknown job "${job.name}"`);
      }
      const result = await this.run(job.name, job);
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
}

async function progress(job: Job, value: JobProgress): Promise<void> {
  await job.updateProgress(value).catch(() => undefined);
}
