/* global document */
// Before the first paint: the theme cached by src/core/theme.ts (THEME_STORAGE_KEY), so a dark
// dashboard never flashes light. A file rather than an inline script: the Content-Security-Policy
// allows no inline script.
try {
  const theme = localStorage.getItem('llamaproxy.theme');
  if (theme === 'light' || theme === 'dark') {
    document.documentElement.dataset.theme = theme;
  }
} catch {
  // Storage can be disabled; the page starts in the system theme.
}
