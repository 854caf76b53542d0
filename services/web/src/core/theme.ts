/**
 * Theme: "system" follows the OS (CSS media query); "light"/"dark" set `data-theme` on <html>.
 * The choice is cached in localStorage so the next page load starts in it (public/theme-boot.js
 * reads it before the first paint); the server copy in the settings stays the source of truth.
 */
import type { DashboardSettings } from '@llamaproxy/shared';

export type Theme = DashboardSettings['theme'];
export const THEME_STORAGE_KEY = 'llamaproxy.theme';

export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === 'system') {
    delete root.dataset.theme;
  } else {
    root.dataset.theme = theme;
  }
  try {
    localStorage.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // Storage can be disabled; the theme still applies to this page.
  }
}

export function effectiveTheme(): 'light' | 'dark' {
  const set = document.documentElement.dataset.theme;
  if (set === 'light' || set === 'dark') {
    return set;
  }
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}
