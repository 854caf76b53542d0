import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { z } from 'zod';

/** `GET /models` entry as far as the collector reads it; a single-model server has no `status`. */
const ModelsResponseSchema = z.object({
  data: z.array(z.object({ id: z.string(), status: z.object({ value: z.string() }).optional() })),
});

/** `GET /slots` entry; `n_prompt_tokens` (tokens in the slot's KV cache) appears once it served a task. */
const SlotsResponseSchema = z.array(
  z.object({ n_ctx: z.number(), is_processing: z.boolean(), n_prompt_tokens: z.number().optional() }),
);
export type SlotReading = z.infer<typeof SlotsResponseSchema>[number];

export class LlamaHttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'LlamaHttpError';
    this.status = status;
  }
}

/**
 * Reads llama-server's monitoring endpoints. Per-model requests pass `autoload=false`, so
 * collecting never loads a model (the router answers 400 for one that is not loaded).
 */
export class LlamaClient {
  private readonly base: URL;
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  timeoutMs: number;

  /** `apiKey`: llama-server's API key, sent as `Authorization: Bearer` with every request. */
  constructor(baseUrl: string, timeoutMs = 5000, apiKey: string | null = null) {
    this.base = new URL(baseUrl);
    this.timeoutMs = timeoutMs;
    this.headers = apiKey === null ? { accept: '*/*' } : { accept: '*/*', authorization: `Bearer ${apiKey}` };
    // node:http with kept-alive sockets: a sample makes 1 + 2 × models requests every interval, and
    // fetch (undici) costs several times more CPU per request.
    const options = { keepAlive: true, maxSockets: 4, maxFreeSockets: 4 };
    this.agent = this.base.protocol === 'https:' ? new HttpsAgent(options) : new Agent(options);
  }

  /** Ids of the models that are loaded now. */
  async loadedModels(): Promise<string[]> {
    const body = ModelsResponseSchema.parse(JSON.parse(await this.get('/models')));
    return body.data.filter((m) => m.status === undefined || m.status.value === 'loaded').map((m) => m.id);
  }

  /** `/metrics` of one model instance, Prometheus text. */
  async metricsText(modelId: string): Promise<string> {
    return this.get(`/metrics?model=${encodeURIComponent(modelId)}&autoload=false`);
  }

  async slots(modelId: string): Promise<SlotReading[]> {
    return SlotsResponseSchema.parse(JSON.parse(await this.get(`/slots?model=${encodeURIComponent(modelId)}&autoload=false`)));
  }

  close(): void {
    this.agent.destroy();
  }

  private get(path: string): Promise<string> {
    const send = this.base.protocol === 'https:' ? httpsRequest : request;
    const prefix = this.base.pathname.replace(/\/+$/, '');
    return new Promise((resolve, reject) => {
      const req = send(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port,
          path: `${prefix}${path}`,
          agent: this.agent,
          timeout: this.timeoutMs,
          headers: this.headers,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(new LlamaHttpError(status, `GET ${path}: HTTP ${status} ${text.slice(0, 200)}`));
            } else {
              resolve(text);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end();
    });
  }
}
