import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, createHttpApp } from './http.handler.js';

const NGINX_TEMPLATE = fileURLToPath(new URL('../../../web/nginx/default.conf.template', import.meta.url));

/** A CSP header's directives (helmet joins them with ";", the nginx template with "; "). */
const directives = (value: string | null | undefined): string[] => (value ?? '').split(';').map((d) => d.trim());

describe(createHttpApp.name, () => {
  let close: (() => Promise<void>) | null = null;
  afterEach(async () => {
    await close?.();
    close = null;
  });

  async function get(path: string): Promise<Response> {
    const app = createHttpApp({ redis: () => Promise.resolve(true), database: () => true }, null, (api) =>
      api.get('/api/auth/session', (_req, res) => {
        res.json({ user: null });
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    const { port } = server.address() as AddressInfo;
    return fetch(`http://127.0.0.1:${port}${path}`);
  }

  it('sends the security headers: a CSP without inline script, nosniff, no referrer, no framing', async () => {
    const sut = await get('/healthz');
    expect(sut.status).toBe(200);
    expect(directives(sut.headers.get('content-security-policy'))).toEqual(directives(CONTENT_SECURITY_POLICY));
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self' ws: wss:");
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|upgrade-insecure-requests/);
    expect(sut.headers.get('x-content-type-options')).toBe('nosniff');
    expect(sut.headers.get('referrer-policy')).toBe('no-referrer');
    expect(sut.headers.get('x-frame-options')).toBe('DENY');
    expect(sut.headers.get('x-powered-by')).toBeNull();
    // HSTS is the TLS reverse proxy's (the dashboard is often plain HTTP on a LAN).
    expect(sut.headers.get('strict-transport-security')).toBeNull();
  });

  it('sends them with the routes mounted by the caller too (the sign-in API)', async () => {
    const sut = await get('/api/auth/session');
    expect(sut.status).toBe(200);
    expect(directives(sut.headers.get('content-security-policy'))).toEqual(directives(CONTENT_SECURITY_POLICY));
    expect(sut.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('sends the same CSP as the web container (services/web/nginx/default.conf.template)', () => {
    const template = readFileSync(NGINX_TEMPLATE, 'utf8');
    const nginx = /add_header Content-Security-Policy "([^"]+)" always;/.exec(template)?.[1];
    expect(directives(nginx)).toEqual(directives(CONTENT_SECURITY_POLICY));
  });
});
