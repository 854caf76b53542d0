/**
 * npm run soak: the whole stack under steady churn for SOAK_MINUTES (default 30), to find what grows.
 * Not part of CI. Starts Redis, the supervisor with a real llama-server and 3 tiny models, a gateway
 * and a metrics collector (the fault tests' stack), connects SOAK_CLIENTS (default 200) Socket.IO
 * clients, and loops: load a model through the gateway, a few chat completions straight at
 * llama-server, settings and per-model settings updates, every 4th round a config change, unload.
 *
 * Every minute (and at start and end) it prints, per process: RSS and open descriptors from /proc,
 * and for the Node services heap used and active resources from their `vitals` lines
 * (VITALS_INTERVAL_MS, set here); plus Redis `used_memory` and `DBSIZE` and the gateway's SQLite
 * file sizes. At the end, one table: start, end, delta. It judges nothing: growth is for a person to
 * read (a heap figure moves with garbage collection; compare several minutes, not two samples).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { SOCKET_PATH, type RequestEvent, type RequestPayload, type ResponseEnvelope } from '@llamaproxy/shared';
import { childProcesses, ensureLlamaServer, processCommandLine, waitFor, type ManagedProcess, type TestClient } from '../src/harness/index.js';
import { FaultStack } from '../faults/support/stack.js';

const MINUTES = Number(process.env.SOAK_MINUTES ?? '30');
const CLIENTS = Number(process.env.SOAK_CLIENTS ?? '200');
const VITALS_MS = 10_000;
const MODELS = ['tiny-llama-a', 'tiny-llama-b', 'tiny-llama-c'] as const;

/** The latest `vitals` line of a Node service. */
interface VitalsLine {
  heapUsedBytes: number;
  activeResources: number;
}

interface Sample {
  atMs: number;
  figures: Map<string, number>;
}

function watchVitals(process: ManagedProcess, into: Map<string, VitalsLine>, name: string): void {
  process.onLine((line) => {
    if (!line.includes('"vitals"')) {
      return;
    }
    try {
      const parsed = JSON.parse(line) as { message?: string; heapUsedBytes?: number; activeResources?: number };
      if (parsed.message === 'vitals' && typeof parsed.heapUsedBytes === 'number' && typeof parsed.activeResources === 'number') {
        into.set(name, { heapUsedBytes: parsed.heapUsedBytes, activeResources: parsed.activeResources });
      }
    } catch {
      // Not a JSON line.
    }
  });
}

/** RSS (bytes) and open descriptors of a process from /proc, or null when it is gone. */
function procFigures(pid: number): { rss: number; fds: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    return { rss: rssKb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return null;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function sample(stack: FaultStack, redis: Redis, vitals: Map<string, VitalsLine>): Promise<Sample> {
  const figures = new Map<string, number>();
  const services: [string, number | undefined][] = [
    ['gateway', stack.gateway.pid],
    ['supervisor', stack.supervisor.pid],
    ['metrics', stack.metrics?.pid],
  ];
  const router = stack.supervisor.pid === undefined ? undefined : childProcesses(stack.supervisor.pid).find((pid) => processCommandLine(pid).includes('llama-server'));
  services.push(['llama-server (router)', router]);
  for (const [name, pid] of services) {
    const proc = pid === undefined ? null : procFigures(pid);
    if (proc !== null) {
      figures.set(`${name} rss MiB`, proc.rss / 2 ** 20);
      figures.set(`${name} open fds`, proc.fds);
    }
    const v = vitals.get(name);
    if (v !== undefined) {
      figures.set(`${name} heap used MiB`, v.heapUsedBytes / 2 ** 20);
      figures.set(`${name} active resources`, v.activeResources);
    }
  }
  const memory = await redis.info('memory');
  figures.set('redis used_memory MiB', Number(/^used_memory:(\d+)/m.exec(memory)?.[1] ?? NaN) / 2 ** 20);
  figures.set('redis dbsize keys', await redis.dbsize());
  const db = join(stack.gatewayDataDir, 'llamaproxy.db');
  figures.set('sqlite db KiB', fileSize(db) / 1024);
  figures.set('sqlite wal KiB', fileSize(`${db}-wal`) / 1024);
  return { atMs: Date.now(), figures };
}

const fmt = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '-' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(1));

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  rows.forEach((r) => console.log(line(r)));
}

function printMinute(s: Sample, start: Sample): void {
  const minute = ((s.atMs - start.atMs) / 60_000).toFixed(1);
  const pick = (k: string): string => fmt(s.figures.get(k));
  console.log(
    `[soak +${minute} min] gw rss ${pick('gateway rss MiB')} MiB fds ${pick('gateway open fds')} heap ${pick('gateway heap used MiB')} res ${pick('gateway active resources')}` +
      ` | sup rss ${pick('supervisor rss MiB')} fds ${pick('supervisor open fds')} heap ${pick('supervisor heap used MiB')} res ${pick('supervisor active resources')}` +
      ` | met rss ${pick('metrics rss MiB')} fds ${pick('metrics open fds')} | router rss ${pick('llama-server (router) rss MiB')} fds ${pick('llama-server (router) open fds')}` +
      ` | redis ${pick('redis used_memory MiB')} MiB ${pick('redis dbsize keys')} keys | db ${pick('sqlite db KiB')} KiB wal ${pick('sqlite wal KiB')} KiB`,
  );
}

/** What the churn did, by kind: done, failed, and the first few failure messages. */
class Tally {
  readonly counts = new Map<string, { ok: number; failed: number }>();
  readonly errors: string[] = [];

  record(kind: string, ok: boolean, error?: string): void {
    const c = this.counts.get(kind) ?? { ok: 0, failed: 0 };
    if (ok) {
      c.ok++;
    } else {
      c.failed++;
      if (this.errors.length < 20) {
        this.errors.push(`${kind}: ${error ?? '?'}`);
      }
    }
    this.counts.set(kind, c);
  }
}

async function request<E extends RequestEvent>(tally: Tally, client: TestClient, event: E, payload: RequestPayload<E>): Promise<ResponseEnvelope<E> | null> {
  try {
    const response = await client.request(event, payload, 30_000);
    tally.record(event, response.success, response.success ? undefined : `${response.error.code} ${response.error.message}`);
    return response;
  } catch (err) {
    tally.record(event, false, (err as Error).message);
    return null;
  }
}

async function modelStatus(client: TestClient, modelId: string): Promise<string | null> {
  const r = await client.request('models:get', { modelId }, 10_000).catch(() => null);
  return r?.success === true ? r.data.model.state.status : null;
}

/** One round of churn on `modelId`. */
async function round(n: number, stack: FaultStack, client: TestClient, tally: Tally): Promise<void> {
  const modelId = MODELS[n % MODELS.length]!;
  const load = await request(tally, client, 'models:load', { modelId });
  if (load?.success === true) {
    const loaded = await waitFor(async () => ((await modelStatus(client, modelId)) === 'loaded' ? true : undefined), { timeoutMs: 90_000, intervalMs: 250, what: `${modelId} loaded` })
      .then(() => true)
      .catch((err: unknown) => (tally.record('load reached loaded', false, (err as Error).message), false));
    if (loaded) {
      tally.record('load reached loaded', true);
      for (let i = 0; i < 3; i++) {
        try {
          const res = await fetch(`${stack.llamaUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: modelId, messages: [{ role: 'user', content: `round ${n} question ${i}` }], max_tokens: 8 }),
            signal: AbortSignal.timeout(60_000),
          });
          await res.text();
          tally.record('completion', res.ok, `HTTP ${res.status}`);
        } catch (err) {
          tally.record('completion', false, (err as Error).message);
        }
      }
    }
  }
  const settings = await request(tally, client, 'settings:get', {});
  if (settings?.success === true) {
    await request(tally, client, 'settings:update', { settings: { theme: n % 2 === 0 ? 'dark' : 'light' }, revision: settings.data.revision });
  }
  const modelSettings = await request(tally, client, 'models:settings:get', { modelId });
  if (modelSettings?.success === true) {
    await request(tally, client, 'models:settings:update', { modelId, revision: modelSettings.data.revision, settings: { 'ctx-size': n % 2 === 0 ? '256' : '384' } });
  }
  if (n % 4 === 3) {
    const config = await request(tally, client, 'config:get', {});
    if (config?.success === true) {
      await request(tally, client, 'config:update', { config: { parallel: config.data.config.parallel === 1 ? 2 : 1 }, revision: config.data.revision });
      await stack.waitForLlama((s) => s.state === 'running', 'llama-server running after a config change', 90_000).catch((err: unknown) => tally.record('config applied', false, (err as Error).message));
    }
  }
  if ((await modelStatus(client, modelId)) === 'loaded') {
    if ((await request(tally, client, 'models:unload', { modelId }))?.success === true) {
      await waitFor(async () => ((await modelStatus(client, modelId)) === 'unloaded' ? true : undefined), { timeoutMs: 60_000, intervalMs: 250, what: `${modelId} unloaded` }).catch(
        (err: unknown) => tally.record('unload reached unloaded', false, (err as Error).message),
      );
    }
  }
  // The request client records every event; the soak's own memory is not what is measured.
  client.received.length = 0;
  stack.status.entries.length = 0;
}

async function main(): Promise<void> {
  const bin = await ensureLlamaServer((line) => console.error(`[llama-server] ${line}`));
  const vitalsEnv = { VITALS_INTERVAL_MS: String(VITALS_MS) };
  console.error(`soak: ${MINUTES} min, ${CLIENTS} clients; starting the stack...`);
  const stack = await FaultStack.start({
    name: 'soak',
    llamaServerBin: bin,
    models: MODELS.length,
    supervisorEnv: vitalsEnv,
    gatewayEnv: { ...vitalsEnv, MAX_CONNECTIONS_PER_ADDRESS: String(CLIENTS + 50), MAX_CONNECTIONS_PER_USER: String(CLIENTS + 50) },
    metricsEnv: vitalsEnv,
  });
  const vitals = new Map<string, VitalsLine>();
  watchVitals(stack.gateway, vitals, 'gateway');
  watchVitals(stack.supervisor, vitals, 'supervisor');
  watchVitals(stack.startMetrics(), vitals, 'metrics');
  const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 2 });
  const sockets: Socket[] = [];
  let events = 0;
  const tally = new Tally();
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const socket = io(stack.gatewayUrl, { path: SOCKET_PATH, transports: ['websocket'], forceNew: true });
      socket.onAny(() => events++);
      sockets.push(socket);
    }
    await waitFor(() => sockets.every((s) => s.connected), { timeoutMs: 60_000, what: `${CLIENTS} clients connected` });
    const client = await stack.connect();
    // Vitals of all three services, after the clients connected.
    await waitFor(() => vitals.size === 3, { timeoutMs: VITALS_MS * 3, what: 'a vitals line from every service' });
    const start = await sample(stack, redis, vitals);
    printMinute(start, start);
    const endAt = Date.now() + MINUTES * 60_000;
    let nextPrint = Date.now() + 60_000;
    let rounds = 0;
    while (Date.now() < endAt) {
      for (const p of [stack.gateway, stack.supervisor, stack.metrics]) {
        if (p !== null && !p.running) {
          throw new Error(`${p.name} exited (${p.exitCode ?? p.exitSignal}) during the soak\n${p.tail(30)}`);
        }
      }
      await stack.diagnose(() => round(rounds++, stack, client, tally));
      if (Date.now() >= nextPrint) {
        nextPrint += 60_000;
        printMinute(await sample(stack, redis, vitals), start);
      }
    }
    // Let the last broadcasts and a fresh vitals line settle.
    const settled = new Map(vitals);
    await waitFor(() => [...vitals.entries()].every(([k, v]) => settled.get(k) !== v), { timeoutMs: VITALS_MS * 3, what: 'fresh vitals lines' });
    const end = await sample(stack, redis, vitals);
    printMinute(end, start);
    const connected = sockets.filter((s) => s.connected).length;

    console.log(`\nsoak: ${MINUTES} min, ${rounds} rounds; ${connected}/${CLIENTS} clients still connected, ${events} events received by them`);
    printTable(
      ['action', 'ok', 'failed'],
      [...tally.counts.entries()].map(([kind, c]) => [kind, String(c.ok), String(c.failed)]),
    );
    for (const e of tally.errors) {
      console.log(`  failure: ${e}`);
    }
    console.log('');
    printTable(
      ['figure', 'start', 'end', 'delta'],
      [...new Set([...start.figures.keys(), ...end.figures.keys()])].map((k) => {
        const a = start.figures.get(k);
        const b = end.figures.get(k);
        return [k, fmt(a), fmt(b), a === undefined || b === undefined ? '-' : `${b - a >= 0 ? '+' : ''}${fmt(b - a)}`];
      }),
    );
  } finally {
    for (const s of sockets) {
      s.close();
    }
    redis.disconnect();
    await stack.dispose();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
