import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, ManagedProcess, REPO_ROOT, waitFor } from '../../src/harness/index.js';

export const NGINX_TEMPLATE = join(REPO_ROOT, 'services', 'web', 'nginx', 'default.conf.template');
const TEMPLATE_ROOT = 'root /usr/share/nginx/html;';
const MIME_TYPES = '/etc/nginx/mime.types';

export interface NginxOptions {
  /** The built app (services/web/dist). */
  root: string;
  /** BASE_PATH of the template: "/" or "/llama/". */
  basePath: string;
  /** GATEWAY_UPSTREAM of the template, e.g. http://127.0.0.1:3000 */
  gatewayUpstream: string;
}

export interface NginxFixture {
  /** The app's public URL: http://127.0.0.1:<port><basePath> */
  url: string;
  process: ManagedProcess;
  /** nginx's error log so far (for failure messages). */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * The variables of the official image's envsubst step: `${VAR}` is replaced for the variables
 * given and left alone otherwise, so nginx's own `$variables` stay.
 */
export function envsubst(template: string, vars: Record<string, string>): string {
  return template.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => vars[name] ?? whole);
}

/** The site config the web container would run, from the real template, serving `root`. */
export function renderSiteConfig(options: NginxOptions & { port: number }): string {
  const site = envsubst(readFileSync(NGINX_TEMPLATE, 'utf8'), {
    BASE_PATH: options.basePath,
    GATEWAY_UPSTREAM: options.gatewayUpstream,
    NGINX_PORT: String(options.port),
    // Unused for an IP-literal upstream, but the directive needs an address.
    NGINX_RESOLVER: '127.0.0.1',
  });
  // The image copies dist/ to nginx's default root; here the root is the build folder itself.
  if (!site.includes(TEMPLATE_ROOT)) {
    throw new Error(`${NGINX_TEMPLATE} no longer contains "${TEMPLATE_ROOT}": update the browser tests' nginx fixture`);
  }
  return site.replace(TEMPLATE_ROOT, `root ${options.root};`);
}

/**
 * Debian's nginx as a foreground child process with a private prefix, logs and temp paths, the
 * site rendered from services/web/nginx/default.conf.template. One process (`master_process
 * off`), so stopping or killing it never leaves a worker behind.
 */
export async function startNginx(options: NginxOptions): Promise<NginxFixture> {
  if (spawnSync('sh', ['-c', 'command -v nginx'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('nginx is not installed (Debian: apt-get install -y nginx)');
  }
  if (!existsSync(MIME_TYPES)) {
    throw new Error(`${MIME_TYPES} is missing (Debian: apt-get install -y nginx)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-nginx-'));
  const port = await freePort();
  const errorLogPath = join(dir, 'error.log');
  writeFileSync(join(dir, 'default.conf'), renderSiteConfig({ ...options, port }));
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      'master_process off;',
      `error_log ${errorLogPath} warn;`,
      'events { worker_connections 256; }',
      'http {',
      `  include ${MIME_TYPES};`,
      '  default_type application/octet-stream;',
      `  access_log ${join(dir, 'access.log')};`,
      `  client_body_temp_path ${join(dir, 'client_body')};`,
      `  proxy_temp_path ${join(dir, 'proxy')};`,
      `  fastcgi_temp_path ${join(dir, 'fastcgi')};`,
      `  uwsgi_temp_path ${join(dir, 'uwsgi')};`,
      `  scgi_temp_path ${join(dir, 'scgi')};`,
      `  include ${join(dir, 'default.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const proc = new ManagedProcess(
    'nginx',
    ['-p', dir, '-e', errorLogPath, '-c', join(dir, 'nginx.conf'), '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`],
    { name: 'nginx' },
  );
  const errorLog = (): string => (existsSync(errorLogPath) ? readFileSync(errorLogPath, 'utf8') : '');
  const stop = async (): Promise<void> => {
    await proc.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}${options.basePath}`;
  try {
    await waitFor(
      async () => {
        if (!proc.running) {
          throw new Error(`nginx exited (${proc.exitCode ?? proc.exitSignal})`);
        }
        return (await fetch(url)).ok;
      },
      { timeoutMs: 10_000, what: `nginx at ${url}` },
    );
  } catch (err) {
    const detail = `${(err as Error).message}\n${proc.tail()}\n${errorLog()}`;
    await stop();
    throw new Error(detail);
  }
  return { url, process: proc, errorLog, stop };
}
