import { AppError, ErrorCode, extraArgsProblems, JobName, ServerConfigSchema } from '@llamaproxy/shared';
import type { Broadcaster } from '../services/broadcaster.js';
import type { DashboardState } from '../services/dashboard-state.js';
import type { JobService } from '../services/job.service.js';
import type { PresetChanges } from '../services/preset-changes.js';
import type { DomainHandlers } from './request-context.js';

type ServerEvents = 'llama:status' | 'llama:start' | 'llama:stop' | 'llama:restart' | 'llama:args' | 'config:get' | 'config:update';

/** llama-server's process (start, stop, restart, status, arguments) and the router configuration. */
export function createServerHandlers(deps: { dashboard: DashboardState; jobs: JobService; presets: PresetChanges; broadcaster: Broadcaster }): DomainHandlers<ServerEvents> {
  const { dashboard, jobs, presets, broadcaster } = deps;
  return {
    'llama:status': async () => ({ nodes: dashboard.llamaStatuses() }),
    'llama:start': async () => ({ job: await jobs.submit(JobName.serverStart, {}, 'llama-server start requested') }),
    'llama:stop': async () => ({ job: await jobs.submit(JobName.serverStop, {}, 'llama-server stop requested') }),
    'llama:restart': async () => ({ job: await jobs.submit(JobName.serverRestart, {}, 'llama-server restart requested') }),
    'llama:args': async () => ({ catalogue: dashboard.args(jobs.nodeId) }),
    'config:get': async () => {
      const { value: config, revision } = dashboard.serverConfigDoc();
      return { config, revision };
    },
    // Stored at once under a revision check (CONFLICT when the caller edited an older one), then
    // queued with its revision: the supervisor applies revisions in order and never goes back.
    'config:update': async ({ config: patch, revision }) => {
      const change = dashboard.changeServerConfig(revision, (current) => {
        const parsed = ServerConfigSchema.safeParse({ ...current, ...patch });
        if (!parsed.success) {
          throw new AppError(ErrorCode.CONFIG_INVALID, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        }
        presets.assertExtraArgsAllowed(parsed.data.extraArgs);
        const problems = extraArgsProblems(parsed.data.extraArgs, presets.args());
        if (problems.length > 0) {
          throw new AppError(ErrorCode.INVALID_ARGUMENT, problems.join('; '));
        }
        return parsed.data;
      });
      const { value: config, revision: next } = change.next;
      let job;
      try {
        job = await jobs.submit(JobName.configApply, { config, revision: next }, 'server configuration change requested');
      } catch (err) {
        const undone = dashboard.replaceServerConfigIf(next, change.previous.value);
        if (undone !== null) {
          await broadcaster.broadcast('config:updated', { config: undone.value, revision: undone.revision });
        }
        throw err;
      }
      await broadcaster.broadcast('config:updated', { config, revision: next });
      return { config, revision: next, job };
    },
  };
}
