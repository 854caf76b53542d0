import { formatArgPolicyProblem, parsePresetIni, presetPolicyProblems, presetProblems, serializePresetIni } from '@llamaproxy/shared';
import type { DashboardState } from '../services/dashboard-state.js';
import type { PresetChanges } from '../services/preset-changes.js';
import type { DomainHandlers } from './request-context.js';

/** The `--models-preset` document: read, replace, and check without applying. */
export function createPresetHandlers(deps: { dashboard: DashboardState; presets: PresetChanges }): DomainHandlers<'presets:get' | 'presets:update' | 'presets:validate'> {
  const { dashboard, presets } = deps;
  return {
    'presets:get': async () => {
      const preset = dashboard.preset();
      return { preset, ini: serializePresetIni(preset) };
    },
    'presets:update': async (req) => {
      const preset = 'preset' in req ? req.preset : presets.parseIni(req.ini);
      const job = await presets.apply(preset, 'preset changed');
      return { preset, ini: serializePresetIni(preset), job };
    },
    'presets:validate': async (req) => {
      const parsed = 'ini' in req ? parsePresetIni(req.ini) : { ok: true as const, preset: req.preset };
      if (!parsed.ok) {
        return { valid: false, problems: parsed.problems };
      }
      const problems = [...presetPolicyProblems(parsed.preset, presets.policy()).map(formatArgPolicyProblem), ...presetProblems(parsed.preset, presets.args())];
      return { valid: problems.length === 0, problems: problems.map((message) => ({ line: 0, message })) };
    },
  };
}
