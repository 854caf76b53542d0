/**
 * History-API router that honours the base path. Pages are created by the `render` callback
 * (which may lazy-load them); the previous page is destroyed before the next one mounts. Links
 * marked `data-route` are intercepted; everything else behaves like a normal link.
 */
import type { Mountable } from './component.js';
import { stripBase, withBase } from './base-path.js';

export interface RouteDef {
  path: string;
  title: string;
}

export interface RouterOptions<R extends RouteDef> {
  base: string;
  routes: readonly R[];
  notFound: R;
  outlet: HTMLElement;
  render(route: R): Promise<Mountable>;
  onError(error: unknown, route: R): void;
}

export type RouteListener<R> = (route: R, path: string) => void;

/** Splits "/logs?level=warn" into its path and query; the path has no trailing slash. */
export function splitPath(path: string): { pathname: string; search: string } {
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  return { pathname: pathname.replace(/(.)\/+$/, '$1') || '/', search: q < 0 ? '' : path.slice(q) };
}

export class Router<R extends RouteDef> {
  private readonly options: RouterOptions<R>;
  private readonly listeners = new Set<RouteListener<R>>();
  private page: Mountable | null = null;
  private token = 0;
  private currentPath = '/';

  constructor(options: RouterOptions<R>) {
    this.options = options;
  }

  get path(): string {
    return this.currentPath;
  }

  start(): void {
    window.addEventListener('popstate', () => void this.renderLocation());
    document.addEventListener('click', (event) => this.interceptLink(event));
    void this.renderLocation();
  }

  /** Location href of an app path, for `<a href>`. */
  href(path: string): string {
    return withBase(path, this.options.base);
  }

  navigate(path: string, replace = false): void {
    const url = this.href(path);
    if (replace) {
      history.replaceState(null, '', url);
    } else if (url !== location.pathname + location.search) {
      history.pushState(null, '', url);
    }
    void this.renderLocation();
  }

  onChange(listener: RouteListener<R>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  match(pathname: string): R {
    return this.options.routes.find((r) => r.path === pathname) ?? this.options.notFound;
  }

  private async renderLocation(): Promise<void> {
    const token = ++this.token;
    const appPath = stripBase(location.pathname, this.options.base) ?? '/';
    const { pathname } = splitPath(appPath);
    const route = this.match(pathname);
    this.currentPath = pathname;
    this.listeners.forEach((l) => l(route, pathname));
    this.options.outlet.setAttribute('aria-busy', 'true');
    try {
      const page = await this.options.render(route);
      if (token !== this.token) {
        page.destroy();
        return;
      }
      this.page?.destroy();
      this.page = page;
      page.mount(this.options.outlet);
      document.title = `${route.title} · Llama Proxy`;
    } catch (error) {
      if (token === this.token) {
        this.options.onError(error, route);
      }
    } finally {
      if (token === this.token) {
        this.options.outlet.removeAttribute('aria-busy');
      }
    }
  }

  private interceptLink(event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    const link = (event.target as Element | null)?.closest?.('a[data-route]');
    if (!(link instanceof HTMLAnchorElement) || link.origin !== location.origin) {
      return;
    }
    const appPath = stripBase(link.pathname, this.options.base);
    if (appPath === null) {
      return;
    }
    event.preventDefault();
    this.navigate(appPath + link.search);
  }
}
