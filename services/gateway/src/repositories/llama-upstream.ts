import { Agent, request, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { z } from 'zod';

/** A model as the router lists it (`GET /models`). */
export interface UpstreamModel {
  id: string;
  /** `loaded`, `loading`, `unloaded`, `failed`, ... as the router says. */
  status: string;
  created: number | null;
}

const ModelsBody = z.object({
  data: z.array(
    z.looseObject({
      id: z.string(),
      created: z.number().optional(),
      status: z.looseObject({ value: z.string() }).optional(),
    }),
  ),
});

/** An upstream answer whose body has not been read: the caller streams it. */
export interface UpstreamResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Readable;
}

/** The router could not be reached or did not answer (connection refused, reset, timeout). */
export class UpstreamUnavailable extends Error {
  override readonly name = 'UpstreamUnavailable';
}

/**
 * HTTP to llama-server's router (`LLAMA_SERVER_URL`), the only code of the gateway that talks to
 * it: its model list, and forwarded `/v1` requests with their response left unread, so the caller
 * streams it on with backpressure. One connection per request (`Connection: close`): llama-server's
 * HTTP server gives each open connection one of its few threads (`--threads-http`), so idle
 * keep-alive sockets held here would starve it (the proxy bench saw "socket hang up" with them);
 * a TCP handshake inside the stack costs far less than a token. The API key, when set, goes as
 * `Authorization: Bearer`.
 */
export class LlamaUpstream {
  private readonly base: URL;
  private readonly apiKey: string | null;
  private readonly agent: Agent;
  private readonly send: typeof request;

  constructor(baseUrl: string, apiKey: string | null) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.apiKey = apiKey;
    const https = this.base.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: false }) : new Agent({ keepAlive: false });
    this.send = https ? httpsRequest : request;
  }

  /** The router's models; throws UpstreamUnavailable when it cannot be asked. */
  async listModels(timeoutMs = 5000): Promise<UpstreamModel[]> {
    const res = await this.forward('GET', 'models', null, {}, AbortSignal.timeout(timeoutMs));
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) {
      chunks.push(chunk as Buffer);
    }
    if (res.status !== 200) {
      throw new UpstreamUnavailable(`GET /models answered ${res.status}`);
    }
    const parsed = ModelsBody.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    if (!parsed.success) {
      throw new UpstreamUnavailable('GET /models answered an unexpected body');
    }
    return parsed.data.data.map((m) => ({ id: m.id, status: m.status?.value ?? 'unknown', created: m.created ?? null }));
  }

  /**
   * Sends one request (`path` relative to the base, e.g. `v1/chat/completions`) and resolves with
   * the response once its headers arrive; aborting `signal` destroys the upstream request, which
   * llama-server sees as the client going away (it stops generating and frees the slot).
   */
  forward(method: 'GET' | 'POST', path: string, body: Buffer | null, headers: Record<string, string>, signal: AbortSignal): Promise<UpstreamResponse> {
    const url = new URL(path, this.base);
    return new Promise((resolve, reject) => {
      const req = this.send(
        url,
        {
          method,
          agent: this.agent,
          signal,
          headers: {
            ...headers,
            ...(body === null ? {} : { 'content-type': 'application/json', 'content-length': String(body.length) }),
            ...(this.apiKey === null ? {} : { authorization: `Bearer ${this.apiKey}` }),
          },
        },
        (res) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res }),
      );
      req.on('error', (err) => reject(signal.aborted ? err : new UpstreamUnavailable(err.message, { cause: err })));
      req.end(body ?? undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
