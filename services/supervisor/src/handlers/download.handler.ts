import { UnrecoverableError, type Job } from 'bullmq';
import {
  AppError,
  DownloadPayloadSchema,
  DownloadStage,
  encodeJobError,
  ErrorCode,
  toErrorInfo,
  type DownloadProgress,
  type DownloadResult,
} from '@llamaproxy/shared';
import type { HfHubClient, Logger } from '@llamaproxy/shared/node';
import type { ModelDownloader } from '../repositories/model-downloader.js';
import { planDownload, type DownloadPlan } from '../services/downloads/download-plan.js';

/** Failures a retry can mend (a network break resumes from the partial file); the rest fail at once. */
const RETRYABLE = new Set<string>([ErrorCode.HF_UNAVAILABLE, ErrorCode.INTERNAL]);

export interface DownloadHandlerDeps {
  hub: Pick<HfHubClient, 'files'>;
  downloader: Pick<ModelDownloader, 'run' | 'discard'>;
  /** Whether the gateway asked to stop this job (a Redis key). */
  isCancelled: (jobId: string) => Promise<boolean>;
  /** Rescans the models directory, so the new model is in the catalogue at once. */
  rescan: () => Promise<unknown>;
  /** False when MODEL_DOWNLOADS=off or the models directory is not writable: every job fails with DOWNLOADS_DISABLED. */
  enabled: boolean;
  logger: Logger;
}

/**
 * Thin adapter from the downloads queue (BullMQ) to the downloader: parses the payload, lists the
 * repository, plans the layout, runs the download with progress through `job.updateProgress`,
 * then rescans the catalogue. Errors travel as `CODE: message`; only HF_UNAVAILABLE (and the
 * unexpected) are retried, resuming from the partial files; after the last attempt they are removed.
 */
export class DownloadHandler {
  private readonly deps: DownloadHandlerDeps;
  private readonly log: Logger;

  constructor(deps: DownloadHandlerDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ module: 'downloads' });
  }

  process = async (job: Job): Promise<DownloadResult> => {
    const started = Date.now();
    let plan: DownloadPlan | null = null;
    let repo = '';
    try {
      if (!this.deps.enabled) {
        throw new AppError(ErrorCode.DOWNLOADS_DISABLED, 'model downloads are off on this node (MODEL_DOWNLOADS, or a read-only models directory)');
      }
      const parsed = DownloadPayloadSchema.safeParse(job.data);
      if (!parsed.success) {
        throw new AppError(ErrorCode.VALIDATION_FAILED, parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
      }
      const payload = parsed.data;
      repo = payload.repo;
      const jobId = job.id ?? '';
      if (await this.deps.isCancelled(jobId)) {
        throw new AppError(ErrorCode.JOB_CANCELLED, 'the download was cancelled');
      }
      await progress(job, { stage: DownloadStage.checking, bytesDone: 0, bytesTotal: 0, bytesPerSec: 0, etaSec: null, file: null });
      plan = planDownload(payload, await this.deps.hub.files(payload.repo, payload.revision));
      this.log.info('download started', { repo: payload.repo, model: plan.modelId, files: plan.files.length, bytes: plan.totalBytes, attempt: job.attemptsMade + 1 });
      const result = await this.deps.downloader.run({
        repo: payload.repo,
        revision: payload.revision,
        plan,
        onProgress: (p) => progress(job, p),
        isCancelled: () => this.deps.isCancelled(jobId),
      });
      await this.deps.rescan().catch((err: unknown) => this.log.warn('rescan after a download failed', { error: (err as Error).message }));
      this.log.info('download done', { repo: payload.repo, model: plan.modelId, bytes: result.bytes, resumedBytes: result.resumedBytes, ms: Date.now() - started });
      return result;
    } catch (err) {
      const info = toErrorInfo(err);
      const retryable = RETRYABLE.has(info.code);
      const last = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (info.code === ErrorCode.INTERNAL) {
        this.log.error('download failed unexpectedly', { repo, id: job.id, error: (err as Error).message, stack: (err as Error).stack });
      } else {
        this.log.warn('download failed', { repo, id: job.id, code: info.code, error: info.message, retry: retryable && !last });
      }
      if (plan !== null && retryable && last) {
        await this.deps.downloader.discard(plan, repo).catch(() => undefined);
      }
      const message = encodeJobError(info);
      throw retryable ? new Error(message) : new UnrecoverableError(message);
    }
  };
}

async function progress(job: Job, value: DownloadProgress): Promise<void> {
  await job.updateProgress(value).catch(() => undefined);
}
