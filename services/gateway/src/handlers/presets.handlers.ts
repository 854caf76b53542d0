import { formatArgPolicyProblem, parsePresetIni, presetPolicyProblems, serializePresetIni } from '@llamaproxy/shared';
import type { DashboardState } from '../services/dashboard-state.js';
import { reportedProblems, type PresetChanges } from '../services/preset-changes.js';
import type { DomainHandlers } from './request-context.js';

/** The `--models-preset` document: read, replace, and check without applying. */
export function createPresetHandlers(deps: { dashboard: DashboardState; presets: PresetChanges }): DomainHandlers<'presets:get' | 'presets:update' | 'presets:validate'> {
  const { dashboard, presets } = deps;
  return {
    'presets:get': async () => {
      const { value: preset, revision } = dashboard.presetDoc();
      return { preset, ini: serializePresetIni(preset), revision };
    },
    'presets:update': async (req) => {
      const { preset, job } = await presets.replace(req.revision, 'preset' in req ? req.preset : presets.parseIni(req.ini), 'preset changed');
      return { preset: preset.value, ini: serializePresetIni(preset.value), revision: preset.revision, job };
    },
    'presets:validate': async (req) => {
      const parsed = 'ini' in req ? parsePresetIni(req.ini) : { ok: true as const, preset: req.preset };
      // At most MAX_REPORTED_PROBLEMS (+1 saying how many more): a crafted INI has ~150,000.
      const more = (n: number): { line: number; message: string } => ({ line: 0, message: `and ${n} more problems` });
      if (!parsed.ok) {
        return { valid: false, problems: reportedProblems(parsed.problems, more) };
      }
      // What `presets:update` would refuse: the flag policy, then every other problem (unknown keys,
      // bad values, custom entries with no model source).
      const problems = [...presetPolicyProblems(parsed.preset, presets.policy()).map(formatArgPolicyProblem), ...presets.problems(parsed.preset)];
      return { valid: problems.length === 0, problems: reportedProblems(problems.map((message) => ({ line: 0, message })), more) };
    },
  };
}
