import { AppError, ErrorCode, JobName } from '@llamaproxy/shared';
import type { DashboardState } from '../services/dashboard-state.js';
import type { DownloadService } from '../services/downloads.service.js';
import type { JobService } from '../services/job.service.js';
import type { DomainHandlers } from './request-context.js';

type DownloadEvents = 'hf:search' | 'hf:files' | 'downloads:list' | 'downloads:start' | 'downloads:cancel' | 'models:delete';

/** Hugging Face search and listings, model downloads, and deleting a model's files. */
export function createDownloadHandlers(deps: { downloads: DownloadService; dashboard: DashboardState; jobs: JobService }): DomainHandlers<DownloadEvents> {
  const { downloads, dashboard, jobs } = deps;
  return {
    'hf:search': async ({ query, limit }) => ({ results: await downloads.search(query, limit) }),
    'hf:files': async ({ repo, revision }) => ({ repo, revision, groups: await downloads.files(repo, revision) }),
    'downloads:list': async () => ({ downloads: await downloads.list() }),
    'downloads:start': async ({ repo, revision, files, name }) => ({ download: await downloads.start({ repo, revision, files, name }) }),
    'downloads:cancel': async ({ downloadId }) => ({ download: await downloads.cancel(downloadId) }),
    'models:delete': async ({ modelId }) => {
      const model = dashboard.modelViews().find((m) => m.id === modelId);
      if (!model) {
        throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${modelId}"`);
      }
      if (model.state.status === 'loaded' || model.state.status === 'loading' || model.state.status === 'sleeping') {
        throw new AppError(ErrorCode.MODEL_LOADED, `${modelId} is ${model.state.status}: unload it first`);
      }
      return { job: await jobs.submit(JobName.modelDelete, { modelId }, `delete requested: ${modelId}`, modelId) };
    },
  };
}
