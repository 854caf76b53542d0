import { mountMemoryBars } from '../../components/memory-bar.js';
import type { AppContext } from '../../core/context.js';
import { PlacementSettingsCard } from './placement-settings.js';

/**
 * The Models page's placement parts (issue #14): the memory bars above the model table and the
 * placement settings card below it. Returns the unmount.
 */
export function mountPlacement(ctx: AppContext, page: HTMLElement): () => void {
  const table = page.querySelector('.table-wrap');
  const unmountBars = mountMemoryBars(ctx, page, table);
  const card = new PlacementSettingsCard(ctx).mount(page);
  return () => {
    unmountBars();
    card.destroy();
  };
}

export { confirmLoad } from './load-confirm.js';
