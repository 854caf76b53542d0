import { z } from 'zod';

/** `GET /models` entry, as far as the supervisor reads it. */
const RouterModelSchema = z.object({
  id: z.string(),
  path: z.string().optional(),
  status: z.looseObject({
    value: z.string(),
    args: z.array(z.string()).optional(),
    failed: z.boolean().optional(),
    exit_code: z.number().optional(),
  }),
});
export type RouterModel = z.infer<typeof RouterModelSchema>;

const ModelsResponseSchema = z.object({ data: z.array(RouterModelSchema) });

/** One event of `GET /models/sse`. */
export const RouterEventSchema = z.object({
  model: z.string(),
  event: z.string(),
  data: z.unknown().optional(),
});
export type RouterEvent = z.infer<typeof RouterEventSchema>;

/** `data` of `model_status` / `status_change` events. */
export const RouterStatusDataSchema = z.looseObject({
  status: z.string(),
  exit_code: z.number().optional(),
  progress: z
    .looseObject({
      stages: z.array(z.string()).optional(),
      current: z.string().optional(),
      value: z.number().optional(),
    })
    .optional(),
});

export class RouterHttpError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'RouterHttpError';
    this.status = status;
  }
}

export interface RouterClientOptions {
  timeoutMs?: number;
  /** llama-server's API key, sent as `Authorization: Bearer` with every request; null for none. */
  apiKey?: string | null;
}

/** The only code that speaks HTTP to llama-server's router API. */
export class RouterClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly auth: Record<string, string>;

  constructor(baseUrl: string, options: RouterClientOptions = {}) {
    this.baseUrl = baseUrl;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.auth = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
  }

  get url(): string {
    return this.baseUrl;
  }

  async health(): Promise<boolean> {
    try {
      // Public even with an API key; sent anyway, so that a proxy in between may require it too.
      const res = await fetch(`${this.baseUrl}/health`, { headers: this.auth, signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  async listModels(reload = false): Promise<RouterModel[]> {
    const body = await this.request('GET', `/models${reload ? '?reload=1' : ''}`);
    return ModelsResponseSchema.parse(body).data;
  }

  async load(modelId: string): Promise<void> {
    await this.request('POST', '/models/load', { model: modelId });
  }

  async unload(modelId: string): Promise<void> {
    await this.request('POST', '/models/unload', { model: modelId });
  }

  /**
   * Requests a model instance is processing now: `GET /slots?model=<id>` (the router passes it to
   * the instance; `autoload=false`, so asking never loads a model), counting `is_processing`.
   */
  async inFlight(modelId: string): Promise<number> {
    const body = await this.request('GET', `/slots?model=${encodeURIComponent(modelId)}&autoload=false`);
    const slots = z.array(z.looseObject({ is_processing: z.boolean().optional() })).safeParse(body);
    return slots.success ? slots.data.filter((s) => s.is_processing === true).length : 0;
  }

  /**
   * Streams `/models/sse` until the signal aborts or the server closes the stream.
   * `onOpen` runs once the stream is established (reconcile with /models after that).
   */
  async streamEvents(signal: AbortSignal, onEvent: (event: RouterEvent) => void, onOpen: () => void): Promise<void> {
    const res = await fetch(`${this.baseUrl}/models/sse`, { signal, headers: { ...this.auth, accept: 'text/event-stream' } });
    if (!res.ok || !res.body) {
      throw new RouterHttpError(res.status, `GET /models/sse: HTTP ${res.status}`);
    }
    onOpen();
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let sep: number;
      while ((sep = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, sep);
        buffer = buffer.slice(buffer.indexOf('\n', sep + 1) + 1);
        const data = block
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).trimStart())
          .join('\n');
        if (!data) {
          continue;
        }
        const parsed = RouterEventSchema.safeParse(safeJson(data));
        if (parsed.success) {
          onEvent(parsed.data);
        }
      }
    }
  }

  private async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const send = (): Promise<Response> =>
      fetch(`${this.baseUrl}${path}`, {
        method,
        headers: body === undefined ? this.auth : { ...this.auth, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    // llama-server (cpp-httplib) closes a kept-alive connection after 5 s idle; a request sent on
    // it as it closes fails before any answer ("fetch failed", the socket closed). Every request
    // here is idempotent (read, load, unload), so it is sent once more, on a new connection.
    const res = await send().catch((err: unknown) => {
      if (isClosedConnection(err)) {
        return send();
      }
      throw err;
    });
    const text = await res.text();
    const json = safeJson(text);
    if (!res.ok) {
      const message = z.object({ error: z.object({ message: z.string() }) }).safeParse(json);
      throw new RouterHttpError(res.status, message.success ? message.data.error.message : `HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    return json;
  }
}

/** A fetch that failed because the connection closed under it (not a refusal, not a timeout). */
export function isClosedConnection(err: unknown): boolean {
  const cause = err instanceof TypeError ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' && ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED'].includes(cause.code);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
