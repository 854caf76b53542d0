import type { IncomingMessage, ServerResponse } from 'node:http';

export interface HttpRoutes {
  /** Prometheus exposition of the latest sample. */
  metrics(): Promise<string>;
  /** Time of the latest sample, null before the first. */
  lastSampleTs(): number | null;
}

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Thin HTTP adapter: `GET /metrics` (Prometheus scrape) and `GET /health`. */
export function createHttpHandler(routes: HttpRoutes): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics': {
        routes.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
            res.end(req.method === 'HEAD' ? undefined : body);
          },
          () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics could not be written\n'),
        );
        return;
      }
      case '/health': {
        const body = JSON.stringify({ status: 'ok', lastSampleTs: routes.lastSampleTs() });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
        return;
      }
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
}
