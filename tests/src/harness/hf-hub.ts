import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A stand-in for the Hugging Face Hub: two real HTTP servers speaking the Hub's formats for what
 * the downloads feature uses (huggingface_hub's behaviour is the reference).
 * - Hub host: `GET /api/models?search=&filter=gguf&sort=downloads&limit=` (id, downloads, likes,
 *   lastModified, gated, private), `GET /api/models/{repo}/tree/{rev}?recursive=true` (type, path,
 *   size, oid, lfs { oid = SHA-256, size, pointerSize }, pages linked by `Link: rel="next"`), and
 *   `GET|HEAD /{repo}/resolve/{rev}/{path}`: 302 to the storage host for LFS files with
 *   `X-Linked-Size`, `X-Linked-Etag`, `ETag`, `X-Repo-Commit`; 401 for a gated or private repository
 *   without a valid `Authorization: Bearer` token; 404 with `X-Error-Code` (RepoNotFound,
 *   RevisionNotFound, EntryNotFound).
 * - Storage host (a second port, as the Hub's CDN): `GET|HEAD /blobs/{sha256}` with Range
 *   support (206, Content-Range; 416 past the end), optionally throttled.
 * Every request is recorded (host, method, path, range, whether a token came), for assertions.
 */
export interface StandInFile {
  path: string;
  data: Buffer;
  /** Serve other bytes than the tree's SHA-256 announces (a corrupted upload). */
  corrupt?: boolean;
  /** The size the tree announces instead of the true one (a file too large for the disk). */
  announcedSize?: number;
}

export interface StandInRepo {
  id: string;
  files: StandInFile[];
  gated?: boolean;
  private?: boolean;
  downloads?: number;
  likes?: number;
  lastModified?: string;
}

export interface RecordedRequest {
  host: 'hub' | 'storage';
  method: string;
  path: string;
  range: string | null;
  authorized: boolean;
}

interface Blob {
  sha256: string;
  data: Buffer;
}

export class HfHubStandIn {
  readonly requests: RecordedRequest[] = [];
  /** Storage answers in chunks of `chunkBytes`, `delayMs` apart (null: at once). */
  throttle: { chunkBytes: number; delayMs: number } | null = null;
  /** Tree entries per page (the Hub pages long listings). */
  pageSize = 1000;
  private readonly repos = new Map<string, StandInRepo>();
  private readonly blobs = new Map<string, Blob>();
  /** Hashed once per file (a large file is hashed at its first resolve, not at every one). */
  private readonly fileBlobs = new WeakMap<StandInFile, Blob>();
  private readonly token: string;
  private hub!: Server;
  private storage!: Server;
  private hubUrl = '';
  private storageUrl = '';

  private constructor(token: string) {
    this.token = token;
  }

  /** Starts both servers on free ports of 127.0.0.1. `token`: the one valid HF token. */
  static async start(options: { repos?: StandInRepo[]; token?: string } = {}): Promise<HfHubStandIn> {
    const sut = new HfHubStandIn(options.token ?? `hf_${randomBytes(12).toString('hex')}`);
    for (const repo of options.repos ?? []) {
      sut.addRepo(repo);
    }
    sut.hub = createServer((req, res) => void sut.handleHub(req, res).catch(() => res.destroy()));
    sut.storage = createServer((req, res) => void sut.handleStorage(req, res).catch(() => res.destroy()));
    sut.hubUrl = await listen(sut.hub);
    sut.storageUrl = await listen(sut.storage);
    return sut;
  }

  /** HF_ENDPOINT for the services. */
  get endpoint(): string {
    return this.hubUrl;
  }

  /** The token the stand-in accepts (HF_TOKEN). */
  get validToken(): string {
    return this.token;
  }

  addRepo(repo: StandInRepo): void {
    this.repos.set(repo.id, repo);
  }

  /** SHA-256 (hex) the tree announces for a file: that of its true bytes. */
  static sha256(data: Buffer): string {
    return createHash('sha256').update(data).digest('hex');
  }

  async close(): Promise<void> {
    for (const server of [this.hub, this.storage]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private record(host: RecordedRequest['host'], req: IncomingMessage): URL {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    this.requests.push({ host, method: req.method ?? 'GET', path: url.pathname, range: req.headers.range ?? null, authorized: this.authorized(req) });
    return url;
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  private async handleHub(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = this.record('hub', req);
    const path = decodeURIComponent(url.pathname);
    if (path === '/api/models') {
      const search = (url.searchParams.get('search') ?? '').toLowerCase();
      const limit = Number(url.searchParams.get('limit') ?? '50');
      const rows = [...this.repos.values()]
        .filter((r) => r.id.toLowerCase().includes(search))
        .filter((r) => url.searchParams.get('filter') !== 'gguf' || r.files.some((f) => f.path.endsWith('.gguf')))
        .filter((r) => !(r.private ?? false) || this.authorized(req))
        .sort((a, b) => (b.downloads ?? 0) - (a.downloads ?? 0))
        .slice(0, limit)
        .map((r) => ({
          _id: createHash('sha1').update(r.id).digest('hex').slice(0, 24),
          id: r.id,
          modelId: r.id,
          downloads: r.downloads ?? 0,
          likes: r.likes ?? 0,
          lastModified: r.lastModified ?? '2026-01-01T00:00:00.000Z',
          gated: r.gated === true ? 'manual' : false,
          private: r.private ?? false,
          tags: ['gguf'],
          library_name: 'gguf',
        }));
      json(res, 200, rows);
      return;
    }
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)$/.exec(path);
    if (tree !== null) {
      const repo = this.visibleRepo(req, res, tree[1] ?? '', tree[2] ?? '');
      if (repo === null) {
        return;
      }
      const entries = treeEntries(repo);
      const cursor = Number(url.searchParams.get('cursor') ?? '0');
      const page = entries.slice(cursor, cursor + this.pageSize);
      if (cursor + this.pageSize < entries.length) {
        const next = new URL(`${this.hubUrl}${url.pathname}`);
        next.searchParams.set('recursive', 'true');
        next.searchParams.set('cursor', String(cursor + this.pageSize));
        res.setHeader('Link', `<${next.toString()}>; rel="next"`);
      }
      json(res, 200, page);
      return;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolve !== null) {
      const repo = this.visibleRepo(req, res, resolve[1] ?? '', resolve[2] ?? '');
      if (repo === null) {
        return;
      }
      if ((repo.gated ?? false) && !this.authorized(req)) {
        error(res, 401, 'GatedRepo', `Access to model ${repo.id} is restricted. You must have access to it and be authenticated to access it.`);
        return;
      }
      const file = repo.files.find((f) => f.path === resolve[3]);
      if (file === undefined) {
        error(res, 404, 'EntryNotFound', `${resolve[3]} does not exist on "main"`);
        return;
      }
      const blob = this.blobOf(file);
      res.setHeader('X-Repo-Commit', commitOf(repo));
      res.setHeader('X-Linked-Size', String(file.data.length));
      res.setHeader('X-Linked-Etag', `"${blob.sha256}"`);
      res.setHeader('ETag', `"${blob.sha256}"`);
      res.setHeader('Location', `${this.storageUrl}/blobs/${blob.sha256}?X-Amz-Signature=${randomBytes(8).toString('hex')}`);
      res.writeHead(302);
      res.end();
      return;
    }
    error(res, 404, 'NotFound', 'not found');
  }

  /** The repository, or null after answering 404 (unknown, other revision) or 401 (private without token). */
  private visibleRepo(req: IncomingMessage, res: ServerResponse, id: string, revision: string): StandInRepo | null {
    const repo = this.repos.get(id);
    if (repo === undefined || ((repo.private ?? false) && !this.authorized(req))) {
      // The Hub answers 401 for a repository it will not confirm to exist, without a token.
      if (repo === undefined || req.headers.authorization !== undefined) {
        error(res, 404, 'RepoNotFound', 'Repository not found');
      } else {
        error(res, 401, 'RepoNotFound', 'Invalid username or password.');
      }
      return null;
    }
    if (revision !== 'main' && revision !== commitOf(repo)) {
      error(res, 404, 'RevisionNotFound', `Invalid rev id: ${revision}`);
      return null;
    }
    return repo;
  }

  private blobOf(file: StandInFile): Blob {
    const known = this.fileBlobs.get(file);
    if (known !== undefined) {
      return known;
    }
    const sha256 = HfHubStandIn.sha256(file.data);
    let data = file.data;
    if (file.corrupt === true) {
      data = Buffer.from(file.data);
      data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0xff;
    }
    const blob = { sha256, data };
    this.blobs.set(sha256, blob);
    this.fileBlobs.set(file, blob);
    return blob;
  }

  private async handleStorage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = this.record('storage', req);
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    const blob = m?.[1] === undefined ? undefined : this.blobs.get(m[1]);
    if (blob === undefined) {
      error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      return;
    }
    const size = blob.data.length;
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', `"${blob.sha256}"`);
    res.setHeader('Content-Type', 'application/octet-stream');
    if (range !== null) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size) {
        res.setHeader('Content-Range', `bytes */${size}`);
        res.writeHead(416);
        res.end();
        return;
      }
      res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      res.setHeader('Content-Length', String(end - start + 1));
      res.writeHead(206);
    } else {
      res.setHeader('Content-Length', String(size));
      res.writeHead(200);
    }
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const body = blob.data.subarray(start, end + 1);
    if (this.throttle === null) {
      res.end(body);
      return;
    }
    for (let offset = 0; offset < body.length && !res.destroyed; offset += this.throttle.chunkBytes) {
      res.write(body.subarray(offset, offset + this.throttle.chunkBytes));
      await sleep(this.throttle?.delayMs ?? 0);
    }
    res.end();
  }
}

function treeEntries(repo: StandInRepo): unknown[] {
  const dirs = new Set<string>();
  const out: unknown[] = [];
  for (const file of repo.files) {
    const parts = file.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirs.has(dir)) {
        dirs.add(dir);
        out.push({ type: 'directory', oid: createHash('sha1').update(dir).digest('hex'), size: 0, path: dir });
      }
    }
    const gitOid = createHash('sha1').update(`blob ${file.data.length}\0`).update(file.data).digest('hex');
    if (file.path.endsWith('.gguf')) {
      const size = file.announcedSize ?? file.data.length;
      out.push({ type: 'file', oid: gitOid, size, path: file.path, lfs: { oid: HfHubStandIn.sha256(file.data), size, pointerSize: 134 } });
    } else {
      out.push({ type: 'file', oid: gitOid, size: file.data.length, path: file.path });
    }
  }
  return out;
}

function commitOf(repo: StandInRepo): string {
  return createHash('sha1').update(`commit ${repo.id}`).digest('hex');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  res.setHeader('X-Error-Code', code);
  res.setHeader('X-Error-Message', message);
  json(res, status, { error: message });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
