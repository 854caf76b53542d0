/**
 * Where the app is mounted ("/" or e.g. "/llama/"), decided at run time: nginx rewrites the
 * `<base href>` of index.html from its BASE_PATH, so `document.baseURI` names the mount point.
 * Every URL the app builds (links, history entries, the socket path) goes through these helpers.
 */
import { SOCKET_PATH } from './contract.js';

/** "/llama/" from "https://host/llama/" or "https://host/llama/index.html". Always ends in "/". */
export function basePathFrom(baseUri: string): string {
  const path = new URL(baseUri).pathname;
  return path.slice(0, path.lastIndexOf('/') + 1) || '/';
}

/** App path ("/models") of a location pathname, or null when it lies outside the base. */
export function stripBase(pathname: string, base: string): string | null {
  if (pathname === base.slice(0, -1)) {
    return '/';
  }
  if (!pathname.startsWith(base)) {
    return null;
  }
  return `/${pathname.slice(base.length)}`;
}

/** Location pathname of an app path: ("/models", "/llama/") → "/llama/models". */
export function withBase(path: string, base: string): string {
  return base + path.replace(/^\/+/, '');
}

/** Socket.IO path under the base: "/llama/llamaproxws". */
export function socketPathFor(base: string): string {
  return withBase(SOCKET_PATH, base);
}
