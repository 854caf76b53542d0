/**
 * The Compose stack end to end, on the Docker engine at DOCKER_HOST (tests/stack/run.sh starts a
 * private one and builds the base-image stand-ins first):
 *
 *   docker-compose up -d --build of the real docker-compose.yml, signed in (AUTH_MODE=local, the
 *   first admin from the environment), LLAMA_API_KEY set and no REDIS_PASSWORD (Redis generates
 *   one into its volume, as on a fresh `docker compose up`) → every service
 *   healthy → the dashboard and its security headers through the published web port → Redis and
 *   llama-server refuse clients without their secrets → a socket without a session is refused →
 *   sign-in through deploy/reverse-proxy/nginx.conf over TLS (or the web container without nginx
 *   here) → the Socket.IO API with the session cookie through the web container's proxy: a
 *   generated tiny model reaches `loaded` → a setting is saved → the gateway container is
 *   restarted and the session, the setting and the log are still there → down -v.
 *
 * Each step prints its time; the last line is "stack: N passed, N failed".
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { io } from 'socket.io-client';
import { writeDemoModels } from '../src/gguf/tiny-model.js';
import { freePort, ManagedProcess, REPO_ROOT, TestClient, waitFor } from '../src/harness/index.js';

const PROJECT = 'llamaproxy-stacktest';
const NODE_ID = 'stacktest';
const SERVICES = ['redis', 'gateway', 'supervisor', 'metrics', 'web'] as const;
/** Non-root user each container runs as (uid). */
const EXPECTED_UID: Record<(typeof SERVICES)[number], string> = {
  redis: '999',
  gateway: '1000',
  supervisor: '1000',
  metrics: '1000',
  web: '101',
};
const MODEL = 'tiny-llama-a';
/** The first admin, created by the gateway from ADMIN_USERNAME/ADMIN_PASSWORD. */
const ADMIN = { username: 'stackadmin', password: `pw-${randomBytes(12).toString('hex')}` };
const LLAMA_API_KEY = `key-${randomBytes(16).toString('hex')}`;

const log = (line: string): void => console.log(`[stack] ${line}`);

const SUB_PATH = '/llama/';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  echo?: boolean;
  timeoutMs?: number;
  /** Added to this process's environment (Compose reads it before the env file). */
  env?: Record<string, string>;
}

/** Runs a command; its output is kept, and echoed with a prefix when `echo` is set. */
async function run(cmd: string, args: string[], options: RunOptions = {}): Promise<Run> {
  const { echo = false, timeoutMs = 15 * 60_000, env = {} } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      if (echo) {
        process.stdout.write(chunk.toString('utf8').replace(/^(?=.)/gm, '  | '));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (echo) {
        process.stdout.write(chunk.toString('utf8').replace(/^(?=.)/gm, '  | '));
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function must(cmd: string, args: string[], options: RunOptions = {}): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.code}\n${(result.stderr || result.stdout).slice(-4000)}`);
  }
  return result.stdout;
}

class Stack {
  private readonly envFile: string;

  constructor(envFile: string) {
    this.envFile = envFile;
  }

  compose(args: string[], options: RunOptions = {}): Promise<string> {
    return must('docker-compose', ['--env-file', this.envFile, '-p', PROJECT, '-f', 'docker-compose.yml', ...args], options);
  }

  async containerId(service: string): Promise<string> {
    const id = (await this.compose(['ps', '-q', service])).trim();
    if (!id) {
      throw new Error(`no container for ${service}`);
    }
    return id;
  }

  /** "running healthy", "running starting", "exited", ... */
  async state(service: string): Promise<string> {
    const id = await this.containerId(service);
    return (await must('docker', ['inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', id])).trim();
  }

  async waitHealthy(services: readonly string[], timeoutMs: number): Promise<void> {
    const states = new Map<string, string>();
    try {
      await waitFor(
        async () => {
          for (const service of services) {
            states.set(service, await this.state(service).catch((err: unknown) => `unknown (${(err as Error).message})`));
          }
          // Never true for an empty list: at least one service must be named and healthy.
          return states.size > 0 && [...states.values()].every((s) => s === 'running healthy');
        },
        { timeoutMs, intervalMs: 1000, what: `healthy: ${services.join(', ')}` },
      );
    } catch (err) {
      const summary = [...states].map(([s, state]) => `${s}: ${state}`).join('; ');
      throw new Error(`${(err as Error).message} (${summary})`);
    }
  }

  async logs(): Promise<string> {
    const result = await run('docker-compose', ['--env-file', this.envFile, '-p', PROJECT, '-f', 'docker-compose.yml', 'logs', '--no-color', '--tail', '60']);
    return result.stdout + result.stderr;
  }
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name)));
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP(S) request that accepts the test's self-signed certificate. */
async function insecureRequest(url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<HttpAnswer> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: options.method ?? 'GET', headers: options.headers, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** GET over TLS that accepts the test's self-signed certificate. */
function insecureGet(url: string): Promise<HttpAnswer> {
  return insecureRequest(url);
}

/**
 * POST /api/auth/sign-in as the dashboard does it (JSON, with its own origin as Origin); returns
 * the session cookie (`name=value`).
 */
async function signIn(origin: string, credentials: { username: string; password: string }): Promise<string> {
  const answer = await insecureRequest(`${origin}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify(credentials),
  });
  if (answer.status !== 200) {
    throw new Error(`POST ${origin}/api/auth/sign-in answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  const setCookie = ([] as string[]).concat(answer.headers['set-cookie'] ?? []);
  const cookie = setCookie.find((c) => c.startsWith('llamaproxy_session='))?.split(';')[0];
  if (cookie === undefined) {
    throw new Error(`sign-in set no session cookie (set-cookie: ${JSON.stringify(setCookie)})`);
  }
  return cookie;
}

/** The `connect_error` message of a socket the gateway refuses, or null when it connects. */
async function socketRefusal(url: string, path: string, headers: Record<string, string> = {}): Promise<string | null> {
  const socket = io(url, { path, transports: ['websocket'], rejectUnauthorized: false, reconnection: false, forceNew: true, extraHeaders: headers });
  try {
    return await new Promise<string | null>((resolve) => {
      socket.once('connect', () => resolve(null));
      socket.once('connect_error', (err) => resolve(err.message));
    });
  } finally {
    socket.close();
  }
}

/**
 * deploy/reverse-proxy/nginx.conf as it is, on this machine's nginx, with only what cannot be
 * used here changed: free ports on 127.0.0.1 instead of 80/443, the web port, a self-signed
 * certificate. Every change must find its text, so the recipe and this test cannot drift apart.
 */
async function startRecipeNginx(dir: string, webPort: number): Promise<{ url: string; proc: ManagedProcess }> {
  const root = join(dir, 'nginx');
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const cert = join(root, 'cert.pem');
  const key = join(root, 'key.pem');
  await must('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert]);
  const [httpPort, tlsPort] = [await freePort(), await freePort()];
  let site = readFileSync(join(REPO_ROOT, 'deploy', 'reverse-proxy', 'nginx.conf'), 'utf8');
  const replace = (from: string | RegExp, to: string): void => {
    const next = site.replace(from, to);
    if (next === site) {
      throw new Error(`deploy/reverse-proxy/nginx.conf no longer contains ${String(from)}`);
    }
    site = next;
  };
  replace('server 127.0.0.1:8080;', `server 127.0.0.1:${webPort};`);
  replace(/\n *listen \[::\]:\d+[^;]*;/g, '');
  replace('listen 80;', `listen 127.0.0.1:${httpPort};`);
  replace('listen 443 ssl http2;', `listen 127.0.0.1:${tlsPort} ssl http2;`);
  replace('/etc/letsencrypt/live/llama.example.com/fullchain.pem', cert);
  replace('/etc/letsencrypt/live/llama.example.com/privkey.pem', key);
  writeFileSync(join(root, 'site.conf'), site);
  const temp = (name: string): string => `${name} ${join(root, 'tmp', name)};`;
  writeFileSync(
    join(root, 'nginx.conf'),
    [
      'daemon off;',
      `pid ${join(root, 'nginx.pid')};`,
      'error_log stderr;',
      'events {}',
      'http {',
      '  access_log off;',
      `  ${temp('client_body_temp_path')} ${temp('proxy_temp_path')} ${temp('fastcgi_temp_path')} ${temp('uwsgi_temp_path')} ${temp('scgi_temp_path')}`,
      `  include ${join(root, 'site.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const proc = new ManagedProcess('nginx', ['-p', root, '-c', join(root, 'nginx.conf')], { name: 'nginx (recipe)' });
  const url = `https://127.0.0.1:${tlsPort}`;
  await waitFor(() => insecureGet(`${url}/llama/`).then((r) => r.status > 0), { timeoutMs: 15_000, intervalMs: 200, what: 'the recipe nginx' }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${proc.tail()}`);
  });
  return { url, proc };
}

interface Step {
  name: string;
  /** A reason to skip this step, or null to run it. */
  skip?: () => string | null;
  fn: () => Promise<void>;
}

async function main(): Promise<number> {
  const work = mkdtempSync(join(tmpdir(), 'llamaproxy-stack-'));
  const modelsDir = join(work, 'models');
  await writeDemoModels(modelsDir, { count: 2 });
  const webPort = await freePort();
  const base = `http://127.0.0.1:${webPort}`;
  const envFile = join(work, 'stack.env');
  // Test settings only; every image name and tag comes from the compose file's defaults.
  writeFileSync(
    envFile,
    [
      `WEB_BIND=127.0.0.1`,
      `WEB_PORT=${webPort}`,
      `MODELS_PATH=${modelsDir}`,
      `NODE_ID=${NODE_ID}`,
      `HEALTHCHECK_INTERVAL=2s`,
      `LLAMA_CTX_SIZE=512`,
      `LLAMA_MODELS_MAX=1`,
      `LLAMA_MODELS_AUTOLOAD=false`,
      `METRICS_INTERVAL_MS=1000`,
      // Sign-in and secrets, as deploy/README.md sets them up.
      `AUTH_MODE=local`,
      `ADMIN_USERNAME=${ADMIN.username}`,
      `ADMIN_PASSWORD=${ADMIN.password}`,
      `LLAMA_API_KEY=${LLAMA_API_KEY}`,
      '',
    ].join('\n'),
  );
  const stack = new Stack(envFile);
  let client: TestClient | null = null;
  /** The session cookie from the sign-in step. */
  let cookie: string | null = null;
  /** deploy/reverse-proxy/nginx.conf on this machine's nginx, from the sign-in step to the end. */
  let recipe: { url: string; proc: ManagedProcess } | null = null;
  const recipeSkip = (): string | null => (onPath('nginx') && onPath('openssl') ? null : 'needs nginx and openssl on this machine');
  const connect = async (): Promise<TestClient> => {
    client?.close();
    if (cookie === null) {
      throw new Error('not signed in (the sign-in step did not run)');
    }
    const headers = { cookie };
    client = await waitFor(() => TestClient.connect(base, '/llamaproxws', headers), { timeoutMs: 30_000, intervalMs: 500, what: 'Socket.IO connection through the web container' });
    return client;
  };

  const steps: Step[] = [
    {
      name: 'docker-compose up -d --build',
      fn: async () => {
        await stack.compose(['down', '-v', '--remove-orphans'], { timeoutMs: 120_000 });
        await stack.compose(['up', '-d', '--build'], { echo: process.env.STACK_VERBOSE === '1', timeoutMs: 20 * 60_000 });
      },
    },
    {
      name: 'every service healthy',
      fn: () => stack.waitHealthy(SERVICES, 240_000),
    },
    {
      name: 'every container runs as its non-root user',
      fn: async () => {
        for (const service of SERVICES) {
          const uid = (await must('docker', ['exec', await stack.containerId(service), 'id', '-u'])).trim();
          if (uid !== EXPECTED_UID[service]) {
            throw new Error(`${service} runs as uid ${uid}, expected ${EXPECTED_UID[service]}`);
          }
        }
      },
    },
    {
      name: 'the dashboard through the published port',
      fn: async () => {
        const page = await fetch(`${base}/`);
        const html = await page.text();
        if (!page.ok || !html.includes('<div id="app">') || !html.includes('<base href="/" />')) {
          throw new Error(`GET / answered ${page.status}: ${html.slice(0, 300)}`);
        }
        const script = /<script type="module"[^>]*src="\.?\/?([^"]+)"/.exec(html)?.[1];
        if (!script) {
          throw new Error('index.html names no module script');
        }
        const asset = await fetch(`${base}/${script}`);
        const type = asset.headers.get('content-type') ?? '';
        if (!asset.ok || !type.includes('javascript') || (await asset.text()).length < 1000) {
          throw new Error(`GET /${script} answered ${asset.status} (${type})`);
        }
        // A client-side route is answered with the app too (History API routing).
        const route = await fetch(`${base}/models`);
        if (!route.ok || !(await route.text()).includes('<div id="app">')) {
          throw new Error(`GET /models answered ${route.status}`);
        }
        // The web container's security headers: a CSP without inline script, no sniffing, no referrer.
        const csp = page.headers.get('content-security-policy') ?? '';
        if (!csp.includes("default-src 'self'") || !csp.includes("frame-ancestors 'none'") || csp.includes('unsafe-inline')) {
          throw new Error(`GET / answered with Content-Security-Policy "${csp}"`);
        }
        if (page.headers.get('x-content-type-options') !== 'nosniff' || page.headers.get('referrer-policy') !== 'no-referrer') {
          throw new Error(`GET / answered without nosniff / no-referrer: ${JSON.stringify([...page.headers])}`);
        }
      },
    },
    {
      name: 'Redis (with its generated password) and llama-server refuse clients without their secrets',
      fn: async () => {
        const redis = await stack.containerId('redis');
        const anonymous = await run('docker', ['exec', redis, 'env', '-u', 'REDISCLI_AUTH', 'redis-cli', 'ping']);
        if (!`${anonymous.stdout}${anonymous.stderr}`.includes('NOAUTH')) {
          throw new Error(`redis-cli ping without the password answered "${anonymous.stdout}${anonymous.stderr}"`);
        }
        // No REDIS_PASSWORD in .env: Redis generated one (64 hex digits) that the services read.
        const generated = (await must('docker', ['exec', redis, 'cat', '/data/.redis-password'])).trim();
        if (!/^[0-9a-f]{64}$/.test(generated)) {
          throw new Error('Redis did not generate a 64-hex-digit password into /data/.redis-password');
        }
        const authed = await must('docker', ['exec', '-e', `REDISCLI_AUTH=${generated}`, redis, 'redis-cli', 'ping']);
        if (!authed.includes('PONG')) {
          throw new Error(`redis-cli ping with the generated password answered "${authed}"`);
        }
        const supervisor = await stack.containerId('supervisor');
        const status = async (...headers: string[]): Promise<string> =>
          (await must('docker', ['exec', supervisor, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', ...headers, `http://127.0.0.1:8080/models`])).trim();
        const [without, withKey] = [await status(), await status('-H', `Authorization: Bearer ${LLAMA_API_KEY}`)];
        if (without !== '401' || withKey !== '200') {
          throw new Error(`llama-server's GET /models answered ${without} without the key and ${withKey} with it`);
        }
        const args = await must('docker', ['exec', supervisor, 'sh', '-c', 'cat /proc/[0-9]*/cmdline 2> /dev/null | tr "\\0" " "']);
        if (!args.includes('--models-dir') || args.includes(LLAMA_API_KEY)) {
          throw new Error('the API key is on a command line in the supervisor container (or llama-server is not running)');
        }
      },
    },
    {
      name: 'a socket without a session is refused (UNAUTHENTICATED)',
      fn: async () => {
        const refusal = await socketRefusal(base, '/llamaproxws');
        if (refusal !== 'UNAUTHENTICATED') {
          throw new Error(refusal === null ? 'a socket without a session connected' : `the socket without a session was refused with "${refusal}"`);
        }
      },
    },
    {
      name: 'sign in (POST /api/auth/sign-in) behind deploy/reverse-proxy/nginx.conf over TLS, with HSTS',
      fn: async () => {
        // Without nginx here, through the web container alone.
        if (recipeSkip() === null) {
          recipe = await startRecipeNginx(work, webPort);
        }
        const origin = recipe?.url ?? base;
        const wrong = await insecureRequest(`${origin}/api/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin },
          body: JSON.stringify({ username: ADMIN.username, password: 'not-the-password' }),
        });
        if (wrong.status !== 401 || !wrong.body.includes('INVALID_CREDENTIALS')) {
          throw new Error(`a wrong password answered ${wrong.status}: ${wrong.body.slice(0, 300)}`);
        }
        const foreign = await insecureRequest(`${origin}/api/auth/sign-in`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: 'https://evil.example.com' },
          body: JSON.stringify(ADMIN),
        });
        if (foreign.status !== 403) {
          throw new Error(`a sign-in from another origin answered ${foreign.status}: ${foreign.body.slice(0, 300)}`);
        }
        cookie = await signIn(origin, ADMIN);
        if (recipe !== null) {
          const page = await insecureGet(`${recipe.url}/`);
          const hsts = String(page.headers['strict-transport-security']);
          if (page.status !== 200 || !hsts.includes('max-age=31536000') || !hsts.includes('includeSubDomains')) {
            throw new Error(`GET / through the recipe answered ${page.status} with Strict-Transport-Security "${hsts}"`);
          }
        }
        const session = await insecureRequest(`${origin}/api/auth/session`, { headers: { cookie } });
        const info = JSON.parse(session.body) as { mode?: string; user?: { username?: string; role?: string } | null };
        if (session.status !== 200 || info.mode !== 'local' || info.user?.username !== ADMIN.username || info.user.role !== 'admin') {
          throw new Error(`GET /api/auth/session with the cookie answered ${session.status}: ${session.body.slice(0, 300)}`);
        }
      },
    },
    {
      name: `load ${MODEL} through the web proxy and see it reach loaded`,
      fn: async () => {
        const api = await connect();
        await waitFor(
          async () => {
            const models = await api.request('models:list', {});
            const status = await api.request('llama:status', {});
            return models.success && models.data.models.length === 2 && status.success && status.data.nodes.some((n) => n.nodeId === NODE_ID && n.state === 'running');
          },
          { timeoutMs: 120_000, intervalMs: 1000, what: 'the catalogue of 2 models and a running llama-server' },
        );
        const response = await api.request('models:load', { modelId: MODEL });
        if (!response.success) {
          throw new Error(`models:load failed: ${JSON.stringify(response.error)}`);
        }
        await api.waitForBroadcast('models:status', (e) => e.data.model.id === MODEL && e.data.model.status === 'loaded', { timeoutMs: 180_000 });
      },
    },
    {
      name: 'metrics reach the gateway, llama-server processes included (shared PID namespace)',
      fn: async () => {
        const api = client ?? (await connect());
        const sample = await waitFor(
          async () => {
            const latest = await api.request('metrics:latest', {});
            const s = latest.success ? latest.data.sample : null;
            return s !== null && s.nodeId === NODE_ID && (s.llamaProcess?.processCount ?? 0) >= 2 ? s : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 1000, what: `a metrics sample of node ${NODE_ID} with the router and a model instance` },
        );
        const disks = sample.disks.map((d) => d.label).sort().join(',');
        if (disks !== 'data,models') {
          throw new Error(`disks in the sample: ${disks}`);
        }
      },
    },
    {
      name: 'a setting saved before the gateway restarts',
      fn: async () => {
        const api = client ?? (await connect());
        const current = await api.request('settings:get', {});
        if (!current.success) {
          throw new Error(`settings:get failed: ${JSON.stringify(current)}`);
        }
        const saved = await api.request('settings:update', { settings: { theme: 'dark' }, revision: current.data.revision });
        if (!saved.success || saved.data.settings.theme !== 'dark') {
          throw new Error(`settings:update failed: ${JSON.stringify(saved)}`);
        }
      },
    },
    {
      name: 'docker-compose restart gateway: the data is still there',
      fn: async () => {
        const id = await stack.containerId('gateway');
        const before = (await must('docker', ['inspect', '-f', '{{.State.StartedAt}}', id])).trim();
        client?.close();
        client = null;
        await stack.compose(['restart', 'gateway'], { timeoutMs: 120_000 });
        const after = (await must('docker', ['inspect', '-f', '{{.State.StartedAt}}', id])).trim();
        if (after === before) {
          throw new Error('the gateway container did not restart');
        }
        await stack.waitHealthy(['gateway', 'web'], 120_000);
        // The session is in the database: the same cookie still signs the socket in.
        const api = await connect();
        const settings = await api.request('settings:get', {});
        if (!settings.success || settings.data.settings.theme !== 'dark') {
          throw new Error(`settings after the restart: ${JSON.stringify(settings)}`);
        }
        const logs = await api.request('logs:query', { source: 'gateway', text: `load requested: ${MODEL}`, limit: 10 });
        if (!logs.success || !logs.data.entries.some((e) => e.message === `load requested: ${MODEL}`)) {
          throw new Error(`the load request is not in the log after the restart: ${JSON.stringify(logs)}`);
        }
        await waitFor(
          async () => {
            const got = await api.request('models:get', { modelId: MODEL });
            return got.success && got.data.model.state.status === 'loaded';
          },
          { timeoutMs: 30_000, intervalMs: 500, what: `${MODEL} still loaded after the gateway restart` },
        );
      },
    },
    {
      name: 'deploy/backup.sh copies a consistent database and the supervisor state out of the running stack',
      fn: async () => {
        const dest = join(work, 'backups');
        const compose = `docker-compose --env-file ${envFile} -p ${PROJECT} -f docker-compose.yml`;
        await must('bash', ['deploy/backup.sh', dest], { env: { COMPOSE: compose }, timeoutMs: 120_000 });
        const [dir] = readdirSync(dest);
        if (dir === undefined) {
          throw new Error(`no backup in ${dest}`);
        }
        const db = readFileSync(join(dest, dir, 'llamaproxy.db'));
        if (db.subarray(0, 16).toString('latin1') !== 'SQLite format 3\0') {
          throw new Error('the backed-up llamaproxy.db is not an SQLite database');
        }
        if (!existsSync(join(dest, dir, 'supervisor'))) {
          throw new Error('no supervisor folder in the backup');
        }
      },
    },
    {
      name: `under a sub path (BASE_PATH=${SUB_PATH}) behind deploy/reverse-proxy/nginx.conf, over TLS`,
      skip: recipeSkip,
      fn: async () => {
        client?.close();
        client = null;
        await stack.compose(['up', '-d', '--no-deps', 'web'], { env: { BASE_PATH: SUB_PATH }, timeoutMs: 120_000 });
        await stack.waitHealthy(['web'], 60_000);
        recipe ??= await startRecipeNginx(work, webPort);
        const { url } = recipe;
        if (cookie === null) {
          throw new Error('not signed in (the sign-in step did not run)');
        }
        const headers = { cookie };
        const bare = await insecureGet(`${url}/llama`);
        if (bare.status !== 301 || !String(bare.headers.location).endsWith('/llama/')) {
          throw new Error(`GET /llama answered ${bare.status} (location ${String(bare.headers.location)})`);
        }
        const page = await insecureGet(`${url}${SUB_PATH}models`);
        if (page.status !== 200 || !page.body.includes(`<base href="${SUB_PATH}" />`)) {
          throw new Error(`GET ${SUB_PATH}models answered ${page.status}: ${page.body.slice(0, 300)}`);
        }
        const script = /<script type="module"[^>]*src="\.?\/?([^"]+)"/.exec(page.body)?.[1];
        const asset = await insecureGet(`${url}${SUB_PATH}${script ?? 'missing-script'}`);
        if (asset.status !== 200 || !String(asset.headers['content-type']).includes('javascript')) {
          throw new Error(`GET ${SUB_PATH}${script ?? '(no script in index.html)'} answered ${asset.status}`);
        }
        // The sign-in API under the sub path too.
        const session = await insecureRequest(`${url}${SUB_PATH}api/auth/session`, { headers });
        if (session.status !== 200 || !session.body.includes(`"${ADMIN.username}"`)) {
          throw new Error(`GET ${SUB_PATH}api/auth/session answered ${session.status}: ${session.body.slice(0, 300)}`);
        }
        // The socket the way the app opens it under this base: <base>llamaproxws, WebSocket only.
        const socket = io(url, { path: `${SUB_PATH}llamaproxws`, transports: ['websocket'], rejectUnauthorized: false, reconnection: false, forceNew: true, extraHeaders: headers });
        try {
          await new Promise<void>((resolve, reject) => {
            socket.once('connect', () => resolve());
            socket.once('connect_error', reject);
          });
          const got = (await socket.timeout(10_000).emitWithAck('models:get', { modelId: MODEL })) as { success: boolean; data?: { model: { state: { status: string } } } };
          if (!got.success || got.data?.model.state.status !== 'loaded') {
            throw new Error(`models:get through the recipe: ${JSON.stringify(got)}`);
          }
        } finally {
          socket.close();
        }
      },
    },
    {
      name: 'docker-compose down -v',
      fn: async () => {
        client?.close();
        client = null;
        await stack.compose(['down', '-v', '--remove-orphans'], { timeoutMs: 180_000 });
        const left = (await must('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${PROJECT}`])).trim();
        if (left) {
          throw new Error(`volumes left after down -v: ${left}`);
        }
      },
    },
  ];

  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const started = Date.now();
  try {
    for (const step of steps) {
      const t0 = Date.now();
      const skip = step.skip?.() ?? null;
      if (skip !== null) {
        skipped++;
        log(`skip  ${step.name}: ${skip}`);
        continue;
      }
      try {
        await step.fn();
        passed++;
        log(`ok    ${step.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (err) {
        failed++;
        log(`FAIL  ${step.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n${err instanceof Error ? err.message : String(err)}`);
        log('--- last log lines of the stack');
        console.log(await stack.logs());
        break;
      }
    }
  } finally {
    (client as TestClient | null)?.close();
    await (recipe as { proc: ManagedProcess } | null)?.proc.stop();
    if (failed > 0 || passed + skipped < steps.length) {
      if (process.env.STACK_KEEP === '1') {
        log(`STACK_KEEP=1: the stack stays up (docker-compose -p ${PROJECT} --env-file ${envFile} ...)`);
      } else {
        await run('docker-compose', ['--env-file', envFile, '-p', PROJECT, '-f', 'docker-compose.yml', 'down', '-v', '--remove-orphans']);
      }
    }
    if (process.env.STACK_KEEP !== '1') {
      rmSync(work, { recursive: true, force: true });
    }
  }
  log(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const notRun = steps.length - passed - failed - skipped;
  console.log(`stack: ${passed} passed, ${failed} failed${skipped + notRun > 0 ? `, ${skipped + notRun} skipped` : ''}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[stack] ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
