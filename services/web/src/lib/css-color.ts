let probe: HTMLElement | null = null;

/**
 * The current value of a colour token (`--chart-1`) as canvas understands it. Tokens use
 * `light-dark()`, which only a real property resolves, so a hidden probe element reads it.
 */
export function cssColor(token: string): string {
  if (probe === null) {
    probe = document.createElement('span');
    probe.hidden = true;
    document.body.append(probe);
  }
  probe.style.color = `var(${token})`;
  return getComputedStyle(probe).color;
}
