import { z } from 'zod';
import { AppError, ErrorCode } from '../errors.js';
import { HfModelSummarySchema, type HfModelSummary, type HfRepoFile } from '../downloads.js';

/** The public Hub; HF_ENDPOINT replaces it (a mirror, or the tests' stand-in). */
export const HF_ENDPOINT_DEFAULT = 'https://huggingface.co';

/** One entry of `GET /api/models` as the Hub answers (only the fields used). */
const HubModelSchema = z.object({
  id: z.string(),
  downloads: z.number().optional(),
  likes: z.number().optional(),
  lastModified: z.string().optional(),
  gated: z.union([z.boolean(), z.string()]).optional(),
  private: z.boolean().optional(),
});

/** One entry of `GET /api/models/{repo}/tree/{revision}?recursive=true`. */
const HubTreeEntrySchema = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().optional(),
  oid: z.string().optional(),
  lfs: z.object({ oid: z.string(), size: z.number() }).optional(),
});

export interface HfHubOptions {
  /** HF_ENDPOINT, without a trailing slash. */
  endpoint: string;
  /** HF_TOKEN: sent as `Authorization: Bearer` to the Hub only, never to the host a file redirects to. */
  token: string | null;
  /** Per request, until the answer's headers arrive (ms). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** A file's bytes as the Hub (or the host it redirected to) answered a ranged GET. */
export interface HubFileResponse {
  /** 200 (whole file) or 206 (from the requested offset). */
  status: 200 | 206;
  /** Offset of the first byte of `body` within the file. */
  start: number;
  body: ReadableStream<Uint8Array>;
}

/**
 * A client of the Hugging Face Hub's HTTP API as huggingface_hub uses it: model search, the
 * repository tree (sizes and LFS object ids), and file downloads through `/resolve/`, whose
 * redirect to a storage host is followed by hand so the token never leaves the Hub. Every failure
 * is an AppError: HF_NOT_FOUND (404), HF_UNAUTHORIZED (401/403: gated or private without an
 * accepted token), HF_UNAVAILABLE (network, 5xx, an unexpected answer). The token is never logged
 * or put in a message.
 */
export class HfHubClient {
  private readonly endpoint: string;
  private readonly token: string | null;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: HfHubOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchFn = options.fetch ?? fetch;
  }

  /** GGUF repositories matching `query`, most downloaded first (`filter=gguf&sort=downloads`). */
  async search(query: string, limit = 20): Promise<HfModelSummary[]> {
    const params = new URLSearchParams({ search: query, filter: 'gguf', sort: 'downloads', direction: '-1', limit: String(limit) });
    for (const field of ['downloads', 'likes', 'lastModified', 'gated', 'private']) {
      params.append('expand[]', field);
    }
    const res = await this.get(`${this.endpoint}/api/models?${params.toString()}`, 'search');
    const rows = z.array(HubModelSchema).safeParse(await res.json().catch(() => null));
    if (!rows.success) {
      throw new AppError(ErrorCode.HF_UNAVAILABLE, 'the Hub answered the search with something unexpected');
    }
    return rows.data.map((m) =>
      HfModelSummarySchema.parse({
        id: m.id,
        downloads: Math.max(0, Math.round(m.downloads ?? 0)),
        likes: Math.max(0, Math.round(m.likes ?? 0)),
        lastModified: m.lastModified ?? null,
        gated: m.gated !== undefined && m.gated !== false,
        private: m.private ?? false,
      }),
    );
  }

  /** Every file of a repository at `revision` (recursive, every page of the listing). */
  async files(repo: string, revision = 'main'): Promise<HfRepoFile[]> {
    const out: HfRepoFile[] = [];
    let url: string | null = `${this.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`;
    for (let page = 0; url !== null && page < 100; page++) {
      const res: Response = await this.get(url, repo);
      const entries = z.array(HubTreeEntrySchema).safeParse(await res.json().catch(() => null));
      if (!entries.success) {
        throw new AppError(ErrorCode.HF_UNAVAILABLE, `the Hub answered the file list of ${repo} with something unexpected`);
      }
      for (const e of entries.data) {
        if (e.type !== 'file') {
          continue;
        }
        const sha = e.lfs?.oid.toLowerCase() ?? null;
        out.push({ path: e.path, sizeBytes: e.lfs?.size ?? e.size ?? 0, sha256: sha !== null && /^[0-9a-f]{64}$/.test(sha) ? sha : null });
      }
      url = nextLink(res.headers.get('link'));
    }
    return out;
  }

  /**
   * Opens `path` of `repo` from byte `start` (a Range request when start > 0). The Hub's redirect
   * to its storage host is followed without the token. A server that ignores the range answers
   * 200 (start 0); a start at or past the end answers 416, reported as `{ status: 206, start }` with
   * an empty body.
   */
  async open(repo: string, revision: string, path: string, start: number, signal?: AbortSignal): Promise<HubFileResponse> {
    const encodedPath = path.split('/').map(encodeURIComponent).join('/');
    let url = `${this.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
    const range: Record<string, string> = start > 0 ? { Range: `bytes=${start}-` } : {};
    let withToken = true;
    for (let hop = 0; hop < 5; hop++) {
      const res = await this.request(url, { headers: { ...range, ...(withToken ? this.auth() : {}) }, redirect: 'manual', signal }, `${repo}/${path}`);
      if (res.status >= 300 && res.status < 400) {
        const location = res.headers.get('location');
        await res.body?.cancel().catch(() => undefined);
        if (location === null) {
          throw new AppError(ErrorCode.HF_UNAVAILABLE, `the Hub redirected ${path} nowhere`);
        }
        const next = new URL(location, url);
        // The token is for the Hub; a storage host gets a signed URL instead.
        withToken = withToken && next.origin === new URL(url).origin;
        url = next.toString();
        continue;
      }
      if (res.status === 416) {
        await res.body?.cancel().catch(() => undefined);
        return { status: 206, start, body: new ReadableStream({ start: (c) => c.close() }) };
      }
      this.check(res, `${repo}/${path}`);
      if (res.body === null) {
        throw new AppError(ErrorCode.HF_UNAVAILABLE, `no content for ${path}`);
      }
      if (res.status === 206) {
        const from = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
        return { status: 206, start: from?.[1] !== undefined ? Number(from[1]) : start, body: res.body };
      }
      return { status: 200, start: 0, body: res.body };
    }
    throw new AppError(ErrorCode.HF_UNAVAILABLE, `too many redirects for ${path}`);
  }

  private auth(): Record<string, string> {
    return this.token === null ? {} : { Authorization: `Bearer ${this.token}` };
  }

  private async get(url: string, what: string): Promise<Response> {
    const res = await this.request(url, { headers: { Accept: 'application/json', ...this.auth() } }, what);
    this.check(res, what);
    return res;
  }

  private async request(url: string, init: RequestInit, what: string): Promise<Response> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    try {
      return await this.fetchFn(url, { ...init, signal });
    } catch (err) {
      if (init.signal?.aborted === true) {
        throw err;
      }
      throw new AppError(ErrorCode.HF_UNAVAILABLE, `cannot reach the Hub at ${this.endpoint} for ${what} (${(err as Error).name === 'TimeoutError' ? 'timed out' : 'connection failed'})`, { cause: err });
    }
  }

  private check(res: Response, what: string): void {
    if (res.ok) {
      return;
    }
    void res.body?.cancel().catch(() => undefined);
    if (res.status === 401 || res.status === 403) {
      throw new AppError(
        ErrorCode.HF_UNAUTHORIZED,
        `${what}: the Hub refused access (${res.status}); the repository is gated or private${this.token === null ? ' and no HF_TOKEN is set' : ', and HF_TOKEN does not grant access to it'}`,
      );
    }
    if (res.status === 404) {
      throw new AppError(ErrorCode.HF_NOT_FOUND, `${what}: not found on the Hub (${res.headers.get('x-error-code') ?? '404'})`);
    }
    throw new AppError(ErrorCode.HF_UNAVAILABLE, `${what}: the Hub answered ${res.status}`);
  }
}

/** The `rel="next"` target of a Link header (the Hub pages long tree listings this way), or null. */
export function nextLink(header: string | null): string | null {
  if (header === null) {
    return null;
  }
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m?.[1] !== undefined) {
      return m[1];
    }
  }
  return null;
}

/**
 * HF_ENDPOINT (default the public Hub) and HF_TOKEN / HF_TOKEN_FILE are read by the services'
 * config modules; this schema checks the token: printable ASCII, no spaces (it is a header value).
 */
export const HfTokenSchema = z.string().min(1).max(1024).regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');
