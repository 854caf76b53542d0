import { AppError, ErrorCode } from '@llamaproxy/shared';
import type { DashboardState } from '../services/dashboard-state.js';
import type { PlacementSettingsService } from '../services/placement-settings.service.js';
import type { DomainHandlers } from './request-context.js';

/**
 * Placement settings (#14): read by anyone, changed by operators under the document's revision.
 * Settings for a model no node lists are refused (MODEL_NOT_FOUND); putting one back to the
 * defaults (`null`) is always allowed, so a removed model's settings can be cleared.
 */
export function createPlacementHandlers(deps: { placement: PlacementSettingsService; dashboard: Pick<DashboardState, 'modelViews'> }): DomainHandlers<'placement:get' | 'placement:update'> {
  const { placement, dashboard } = deps;
  return {
    'placement:get': async () => placement.current(),
    'placement:update': async ({ defaultTtlSeconds, models, revision }) => {
      const set = Object.entries(models ?? {}).filter(([, s]) => s !== null).map(([id]) => id);
      if (set.length > 0) {
        const known = new Set(dashboard.modelViews().map((m) => m.id));
        const unknown = set.find((id) => !known.has(id));
        if (unknown !== undefined) {
          throw new AppError(ErrorCode.MODEL_NOT_FOUND, `no model "${unknown}"`);
        }
      }
      return placement.update({ defaultTtlSeconds, models, revision });
    },
  };
}
