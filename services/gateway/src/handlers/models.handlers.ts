import { AppError, ErrorCode, JobName, type ModelView } from '@llamaproxy/shared';
import type { DashboardState } from '../services/dashboard-state.js';
import type { JobService } from '../services/job.service.js';
import type { PresetChanges } from '../services/preset-changes.js';
import type { DomainHandlers } from './request-context.js';

type ModelEvents = 'models:list' | 'models:get' | 'models:load' | 'models:unload' | 'models:rescan' | 'models:settings:get' | 'models:settings:update';

/** The model catalogue, loads and unloads, and per-model settings (a section of the preset). */
export function createModelHandlers(deps: { dashboard: DashboardState; jobs: JobService; presets: PresetChanges }): DomainHandlers<ModelEvents> {
  const { dashboard, jobs, presets } = deps;
  const requireModel = (modelId: string): ModelView => {
    const model = dashboard.modelView(modelId);
    if (model === null) {
      throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${modelId}"`);
    }
    return model;
  };
  return {
    'models:list': async ({ cursor, limit, text }) => dashboard.modelPage({ limit, ...(cursor === undefined ? {} : { cursor }), ...(text === undefined ? {} : { text }) }),
    'models:get': async ({ modelId }) => ({ model: requireModel(modelId) }),
    'models:load': async ({ modelId }) => {
      const model = requireModel(modelId);
      if (!model.valid) {
        throw new AppError(ErrorCode.MODEL_INVALID, `${modelId}: ${model.invalidReason ?? 'not a valid GGUF file'}`);
      }
      return { job: await jobs.submit(JobName.modelLoad, { modelId }, `load requested: ${modelId}`, modelId) };
    },
    'models:unload': async ({ modelId }) => {
      requireModel(modelId);
      return { job: await jobs.submit(JobName.modelUnload, { modelId }, `unload requested: ${modelId}`, modelId) };
    },
    'models:rescan': async () => ({ job: await jobs.submit(JobName.modelsRescan, {}, 'rescan of the models directory requested') }),
    'models:settings:get': async ({ modelId }) => {
      const model = requireModel(modelId);
      return { modelId, settings: model.settings, revision: model.settingsRevision };
    },
    // Under this model's settings revision: a stale edit gets CONFLICT; another model's edit never does.
    'models:settings:update': async ({ modelId, settings, revision }) => {
      requireModel(modelId);
      const { settingsRevision, job } = await presets.setModelSettings(modelId, revision, settings);
      return { modelId, settings, revision: settingsRevision, job };
    },
  };
}
