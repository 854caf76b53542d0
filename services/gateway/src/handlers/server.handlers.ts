import { AppError, ErrorCode, extraArgsProblems, JobName, ServerConfigSchema } from '@llamaproxy/shared';
import type { DashboardState } from '../services/dashboard-state.js';
import type { JobService } from '../services/job.service.js';
import type { PresetChanges } from '../services/preset-changes.js';
import type { DomainHandlers } from './request-context.js';

type ServerEvents = 'llama:status' | 'llama:start' | 'llama:stop' | 'llama:restart' | 'llama:args' | 'config:get' | 'config:update';

/** llama-server's process (start, stop, restart, status, arguments) and the router configuration. */
export function createServerHandlers(deps: { dashboard: DashboardState; jobs: JobService; presets: PresetChanges }): DomainHandlers<ServerEvents> {
  const { dashboard, jobs, presets } = deps;
  return {
    'llama:status': async () => ({ nodes: dashboard.llamaStatuses() }),
    'llama:start': async () => ({ job: await jobs.submit(JobName.serverStart, {}, 'llama-server start requested') }),
    'llama:stop': async () => ({ job: await jobs.submit(JobName.serverStop, {}, 'llama-server stop requested') }),
    'llama:restart': async () => ({ job: await jobs.submit(JobName.serverRestart, {}, 'llama-server restart requested') }),
    'llama:args': async () => ({ catalogue: dashboard.args(jobs.nodeId) }),
    'config:get': async () => ({ config: dashboard.serverConfig() }),
    'config:update': async ({ config: patch }) => {
      const parsed = ServerConfigSchema.safeParse({ ...dashboard.serverConfig(), ...patch });
      if (!parsed.success) {
        throw new AppError(ErrorCode.CONFIG_INVALID, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      }
      presets.assertExtraArgsAllowed(parsed.data.extraArgs);
      const problems = extraArgsProblems(parsed.data.extraArgs, presets.args());
      if (problems.length > 0) {
        throw new AppError(ErrorCode.INVALID_ARGUMENT, problems.join('; '));
      }
      const job = await jobs.submit(JobName.configApply, { config: parsed.data }, 'server configuration change requested', null, { kind: 'config', config: parsed.data });
      return { config: parsed.data, job };
    },
  };
}
