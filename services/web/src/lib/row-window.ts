/** Which rows of a long list of fixed-height rows are worth rendering: pure window math. */

export interface RowWindowInput {
  /** Rows in the list. */
  count: number;
  /** Height of every row, px. */
  rowHeight: number;
  /** How far the list is scrolled, px from its first row (may be negative above it). */
  scrollTop: number;
  /** Height of the visible part, px; 0 when unknown (not laid out): `fallbackRows` are shown then. */
  viewportHeight: number;
  /** Rows rendered beyond each edge, so a short scroll shows no gap. */
  overscan: number;
  /** Rows shown when the viewport height is unknown. */
  fallbackRows?: number;
}

/** Rows `start` (inclusive) to `end` (exclusive), and the space (px) that stands for the rest. */
export interface RowWindow {
  start: number;
  end: number;
  padTop: number;
  padBottom: number;
}

export function rowWindow(input: RowWindowInput): RowWindow {
  const { count, rowHeight, overscan } = input;
  const viewport = input.viewportHeight > 0 ? input.viewportHeight : (input.fallbackRows ?? 40) * rowHeight;
  const top = Math.max(0, input.scrollTop);
  const first = Math.floor(top / rowHeight);
  const last = Math.ceil((top + viewport) / rowHeight);
  const start = Math.min(count, Math.max(0, first - overscan));
  const end = Math.min(count, Math.max(start, last + overscan));
  return { start, end, padTop: start * rowHeight, padBottom: (count - end) * rowHeight };
}
