import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express } from 'express';

export interface HealthProbe {
  redis(): Promise<boolean>;
  database(): boolean;
}

/** HTTP: liveness, readiness, and (in development) the built web app. The API is Socket.IO only. */
export function createHttpApp(probe: HealthProbe, webDistDir: string | null): Express {
  const app = express();
  app.disable('x-powered-by');
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
