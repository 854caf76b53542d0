/**
 * npm run dev: the whole stack as local processes, with the environment keys the compose file
 * uses. A private redis-server unless REDIS_URL is set; the cached llama-server (built once when
 * missing); ./models (demo models generated when empty); ./data for the services' files; the web
 * app through Vite's dev server. Services that do not exist yet are skipped. With DEV_HF_STANDIN=1
 * the Hugging Face Hub stand-in of the tests serves a few tiny repositories as HF_ENDPOINT (no
 * internet needed to try the Get models page); otherwise HF_ENDPOINT and HF_TOKEN pass through.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureLlamaServer, HfHubStandIn, ManagedProcess, REPO_ROOT, startRedis, startService, waitFor, type ServiceName } from '../harness/index.js';
import { buildTinyModel, splitFileNames, splitGguf, tinyModelDescription, writeDemoModels } from '../gguf/tiny-model.js';

const env = process.env;
const log = (line: string): void => console.log(`[dev] ${line}`);

async function main(): Promise<void> {
  const modelsDir = resolve(env.MODELS_DIR ?? join(REPO_ROOT, 'models'));
  const dataDir = resolve(env.DEV_DATA_DIR ?? join(REPO_ROOT, 'data'));
  mkdirSync(modelsDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  if (readdirSync(modelsDir).filter((f) => f.endsWith('.gguf')).length === 0) {
    const written = await writeDemoModels(modelsDir);
    log(`models directory was empty: wrote ${written.length} demo models to ${modelsDir}`);
  }

  // A fresh data directory gets its first admin from ADMIN_USERNAME/ADMIN_PASSWORD below.
  const freshDatabase = !existsSync(join(dataDir, 'gateway', 'llamaproxy.db'));
  const redis = await startRedis();
  log(`redis: ${redis.url} (${redis.source})`);
  const bin = await ensureLlamaServer((line) => log(line));
  const gatewayPort = env.GATEWAY_PORT ?? '3000';
  // The first admin of a fresh dev database (ignored once the database has a user).
  const adminPassword = env.ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
  const webPort = env.WEB_PORT ?? '5173';
  const common: Record<string, string> = {
    REDIS_URL: redis.url,
    SUPERVISOR_NODE_ID: env.SUPERVISOR_NODE_ID ?? 'local',
    METRICS_NODE_ID: env.SUPERVISOR_NODE_ID ?? 'local',
    MODELS_DIR: modelsDir,
    LLAMA_PORT: env.LLAMA_PORT ?? '8080',
    LLAMA_SERVER_URL: `http://127.0.0.1:${env.LLAMA_PORT ?? '8080'}`,
    LOG_FORMAT: env.LOG_FORMAT ?? 'pretty',
  };
  let hub: HfHubStandIn | null = null;
  if (env.DEV_HF_STANDIN === '1') {
    hub = await startDevHub();
    common.HF_ENDPOINT = hub.endpoint;
    log(`Hugging Face stand-in: ${hub.endpoint} (search "tiny"; the gated repository opens with HF_TOKEN=${hub.validToken})`);
  }
  const specific: Record<ServiceName, Record<string, string>> = {
    supervisor: { LLAMA_SERVER_BIN: bin, SUPERVISOR_DATA_DIR: join(dataDir, 'supervisor') },
    gateway: {
      DATA_DIR: join(dataDir, 'gateway'),
      GATEWAY_PORT: gatewayPort,
      AUTH_MODE: env.AUTH_MODE ?? 'local',
      ADMIN_USERNAME: env.ADMIN_USERNAME ?? 'admin',
      ADMIN_PASSWORD: adminPassword,
    },
    metrics: { DATA_DIR: join(dataDir, 'gateway') },
  };

  const processes: ManagedProcess[] = [];
  for (const name of ['supervisor', 'gateway', 'metrics'] as const) {
    if (!existsSync(join(REPO_ROOT, 'services', name, 'src', 'main.ts'))) {
      log(`${name}: not built yet, skipped`);
      continue;
    }
    const proc = startService(name, { ...common, ...specific[name] }, { echo: true });
    processes.push(proc);
  }
  await waitFor(async () => (await fetch(`http://127.0.0.1:${gatewayPort}/readyz`)).ok, { timeoutMs: 60_000, what: 'gateway ready' });

  let url = `http://localhost:${gatewayPort}/ (gateway only: no web app yet)`;
  if (existsSync(join(REPO_ROOT, 'services', 'web', 'vite.config.ts'))) {
    const vite = new ManagedProcess(process.execPath, [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), '--port', webPort, '--strictPort'], {
      name: 'web',
      cwd: join(REPO_ROOT, 'services', 'web'),
      env: { ...process.env, GATEWAY_URL: `http://127.0.0.1:${gatewayPort}` },
      echo: true,
    });
    processes.push(vite);
    url = `http://localhost:${webPort}/`;
  }
  log(`dashboard: ${url}`);
  log(`OpenAI-compatible endpoint: ${url.split(' ')[0]}v1 (create a key on the API keys page; curl ${url.split(' ')[0]}v1/models -H "Authorization: Bearer <key>")`);
  if (freshDatabase || env.ADMIN_PASSWORD !== undefined) {
    log(`sign in as ${env.ADMIN_USERNAME ?? 'admin'} / ${adminPassword} (set ADMIN_PASSWORD to choose)`);
  } else {
    // The first admin exists already: a password generated now would not be theirs.
    log(`sign in with the password printed when ${dataDir} was first used (its database keeps the first admin; remove the folder to start afresh)`);
  }
  log('press Ctrl+C to stop everything');

  // A second Ctrl+C (or SIGTERM) while the services drain stops them at once; either way Redis
  // (in a process group of its own, so the terminal's signal does not reach it) is stopped last.
  let signals = 0;
  const stop = async (graceMs: number): Promise<void> => {
    log(graceMs > 0 ? 'stopping (Ctrl+C again to stop at once)' : 'stopping at once');
    await Promise.all([...processes].reverse().map((p) => p.stop(graceMs)));
    await redis.stop();
    await hub?.close();
    process.exit(0);
  };
  const onSignal = (): void => {
    signals += 1;
    if (signals <= 2) {
      void stop(signals === 1 ? 15_000 : 0);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** The Hub stand-in with tiny repositories: one file per quantization, a split set, a gated one. */
function startDevHub(): Promise<HfHubStandIn> {
  const shards = splitGguf(tinyModelDescription({ seed: 31, name: 'tiny-split' }), 2);
  return HfHubStandIn.start({
    token: env.HF_TOKEN,
    repos: [
      {
        id: 'tiny-org/tiny-chat-GGUF',
        downloads: 1200,
        likes: 12,
        files: [
          { path: 'tiny-chat-F32.gguf', data: buildTinyModel({ seed: 32, name: 'tiny-chat', tensorType: 'F32' }) },
          { path: 'tiny-chat-F16.gguf', data: buildTinyModel({ seed: 32, name: 'tiny-chat' }) },
        ],
      },
      { id: 'tiny-org/tiny-split-GGUF', downloads: 300, files: splitFileNames('tiny-split-F16', 2).map((path, i) => ({ path, data: shards[i] ?? Buffer.alloc(0) })) },
      { id: 'tiny-org/tiny-gated-GGUF', gated: true, downloads: 40, files: [{ path: 'tiny-gated-F16.gguf', data: buildTinyModel({ seed: 33, name: 'tiny-gated' }) }] },
    ],
  });
}

main().catch((err: unknown) => {
  console.error(`[dev] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
