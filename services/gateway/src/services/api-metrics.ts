import { Counter, Histogram, Registry } from 'prom-client';
import type { ActivityRecord } from '@llamaproxy/shared';

/**
 * Prometheus figures of the `/v1` endpoint on the gateway's `GET /metrics` (prom-client: the
 * de-facto Node client, with the text format and histogram buckets done right). Labels are the
 * model, the key id (never the key) and the status; a request without a key (the playground's
 * session) is `key="session"`. Every replica reports its own requests; Prometheus sums them.
 */
export class ApiMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'key' | 'status' | 'endpoint'>;
  private readonly errors: Counter<'model' | 'key' | 'status'>;
  private readonly tokens: Counter<'model' | 'key' | 'kind'>;
  private readonly ttft: Histogram<'model'>;
  private readonly duration: Histogram<'model' | 'endpoint'>;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'llamaproxy_api_requests_total', help: 'Requests to the /v1 endpoint', labelNames: ['model', 'key', 'status', 'endpoint'], registers });
    this.errors = new Counter({ name: 'llamaproxy_api_errors_total', help: 'Requests to the /v1 endpoint that did not succeed', labelNames: ['model', 'key', 'status'], registers });
    this.tokens = new Counter({ name: 'llamaproxy_api_tokens_total', help: 'Tokens of /v1 requests (kind: prompt, cached, completion)', labelNames: ['model', 'key', 'kind'], registers });
    this.ttft = new Histogram({
      name: 'llamaproxy_api_time_to_first_token_seconds', help: 'Time from request to the first byte of output',
      labelNames: ['model'], buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    this.duration = new Histogram({
      name: 'llamaproxy_api_request_duration_seconds', help: 'Duration of /v1 requests',
      labelNames: ['model', 'endpoint'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers,
    });
  }

  observe(r: Omit<ActivityRecord, 'id'>): void {
    const model = r.model ?? '';
    const key = r.keyId ?? 'session';
    const status = String(r.status);
    this.requests.inc({ model, key, status, endpoint: r.endpoint });
    if (r.status < 200 || r.status > 299) {
      this.errors.inc({ model, key, status });
    }
    for (const [kind, n] of [['prompt', r.promptTokens], ['cached', r.cachedTokens], ['completion', r.completionTokens]] as const) {
      if (n !== null && n > 0) {
        this.tokens.inc({ model, key, kind }, n);
      }
    }
    if (r.ttftMs !== null) {
      this.ttft.observe({ model }, r.ttftMs / 1000);
    }
    this.duration.observe({ model, endpoint: r.endpoint }, r.durationMs / 1000);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
