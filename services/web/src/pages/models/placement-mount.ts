import { mountMemoryBars } from '../../components/memory-bar.js';
import type { AppContext } from '../../core/context.js';
import { FootprintsCard } from './footprints-card.js';
import { PlacementSettingsCard } from './placement-settings.js';

/**
 * The Models page's placement parts (issue #14): the memory bars above the model table, the
 * placement settings card and the footprints (estimated beside measured) below it. Returns the unmount.
 */
export function mountPlacement(ctx: AppContext, page: HTMLElement): () => void {
  const table = page.querySelector('.table-wrap');
  const unmountBars = mountMemoryBars(ctx, page, table);
  const card = new PlacementSettingsCard(ctx).mount(page);
  const footprints = new FootprintsCard(ctx).mount(page);
  return () => {
    unmountBars();
    card.destroy();
    footprints.destroy();
  };
}

export { confirmLoad } from './load-confirm.js';
