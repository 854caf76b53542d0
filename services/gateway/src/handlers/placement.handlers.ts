import type { PlacementSettingsService } from '../services/placement-settings.service.js';
import type { DomainHandlers } from './request-context.js';

/** Placement settings (#14): read by anyone, changed by operators under the document's revision. */
export function createPlacementHandlers(deps: { placement: PlacementSettingsService }): DomainHandlers<'placement:get' | 'placement:update'> {
  const { placement } = deps;
  return {
    'placement:get': async () => placement.current(),
    'placement:update': async ({ defaultTtlSeconds, models, revision }) => placement.update({ defaultTtlSeconds, models, revision }),
  };
}
