import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which page may talk to the gateway with the user's cookie: the dashboard's own origin (the host
 * the request was made to: `Host`, or `X-Forwarded-Host` from a trusted proxy) or one of
 * ALLOWED_ORIGINS (full origins).
 * Browsers send `Origin` on every WebSocket handshake and every cross-site or POST fetch, so a
 * request without one is not from a web page and carries no ambient risk; `Origin: null`
 * (sandboxed frames, file://) is refused.
 */
export function originAllowed(headers: IncomingHttpHeaders, host: string | undefined, allowed: readonly string[]): boolean {
  const origin = headers.origin;
  if (origin === undefined) {
    return true;
  }
  if (origin === 'null') {
    return false;
  }
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (allowed.includes(parsed.origin)) {
    return true;
  }
  // Host only, not the scheme: behind a TLS-terminating proxy the gateway sees plain HTTP.
  return host !== undefined && parsed.host.toLowerCase() === host.toLowerCase();
}
