import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express } from 'express';
import helmet from 'helmet';

export interface HealthProbe {
  redis(): Promise<boolean>;
  database(): boolean;
}

/**
 * The dashboard's Content-Security-Policy: its own scripts, styles and images only (no inline
 * script or style attribute; `element.style` from script is allowed), sockets to its own origin,
 * never framed. The web container's nginx sends the same (services/web/nginx/default.conf.template;
 * a unit test keeps the two equal).
 */
export const CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'", 'ws:', 'wss:'],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
} as const;

/** `CSP_DIRECTIVES` as the header's value. */
export const CONTENT_SECURITY_POLICY = Object.entries(CSP_DIRECTIVES)
  .map(([name, values]) => `${name} ${values.join(' ')}`)
  .join('; ');

/**
 * Security headers on every answer. Not helmet's defaults in two places: no
 * `upgrade-insecure-requests` and no HSTS, since a homelab dashboard is often plain HTTP on the
 * LAN; HSTS belongs to the TLS reverse proxy (deploy/reverse-proxy/).
 */
const securityHeaders = helmet({
  contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
  strictTransportSecurity: false,
  referrerPolicy: { policy: 'no-referrer' },
  xFrameOptions: { action: 'deny' },
});

/**
 * HTTP: liveness, readiness, the routes `mountApi` adds (sign-in under /api/auth), and (in
 * development) the built web app. Every answer carries the security headers.
 */
export function createHttpApp(probe: HealthProbe, webDistDir: string | null, mountApi: (app: Express) => void = () => undefined): Express {
  const app = express();
  app.disable('x-powered-by');
  // First, so that every answer has them, the API's included.
  app.use(securityHeaders);
  mountApi(app);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const [redis, database] = await Promise.all([probe.redis(), Promise.resolve(probe.database())]);
    res.status(redis && database ? 200 : 503).json({ status: redis && database ? 'ready' : 'not ready', redis, database });
  });
  if (webDistDir !== null && existsSync(join(webDistDir, 'index.html'))) {
    app.use(express.static(webDistDir, { index: false, maxAge: '1h' }));
    app.get(/^(?!\/llamaproxws).*/, (_req, res) => {
      res.sendFile(join(webDistDir, 'index.html'));
    });
  }
  return app;
}
