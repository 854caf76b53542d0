/** Pure helpers of the placement settings form (issue #14). */
import type { ModelPlacementSettings } from '@llamaproxy/shared';

/** Longest TTL a setting may name, in seconds (30 days; the shared MAX_TTL_SECONDS). */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

/**
 * A TTL field's text as seconds: empty = null (the default), else a whole number 0..30 days;
 * a string says what is wrong.
 */
export function parseTtlInput(text: string): number | null | string {
  const trimmed = text.trim();
  if (trimmed === '') {
    return null;
  }
  if (!/^\d+$/.test(trimmed)) {
    return 'The idle TTL is a whole number of seconds (0 = never).';
  }
  const seconds = Number(trimmed);
  return seconds > MAX_TTL_SECONDS ? `The idle TTL is at most ${MAX_TTL_SECONDS} seconds (30 days).` : seconds;
}

/** The TTL field's text for a setting (empty for the default). */
export function ttlInputValue(ttlSeconds: number | null): string {
  return ttlSeconds === null ? '' : String(ttlSeconds);
}

/** "idle TTL 600 s" / "never idles out" / "default TTL". */
export function describeTtl(ttlSeconds: number | null): string {
  return ttlSeconds === null ? 'default TTL' : ttlSeconds === 0 ? 'never unloaded when idle' : `idle TTL ${ttlSeconds} s`;
}

/** "pinned, idle TTL 600 s, loads on start-up". */
export function describePlacement(s: ModelPlacementSettings): string {
  return [s.pinned ? 'pinned' : null, s.pinned ? null : describeTtl(s.ttlSeconds), s.loadOnStartup ? 'loads on start-up' : null].filter((x) => x !== null).join(', ');
}
