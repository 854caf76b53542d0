/**
 * Gateway under 2,000 connected dashboards (the gateway issue's figures):
 *   - broadcast fan-out of a 1 KB envelope, server emit → client receive, p50/p99, through the
 *     Redis adapter (`io.emit`, the gateway's path) and with `io.local.emit`, emits interleaved;
 *   - ack round trip (`settings:get` by `emitWithAck`) with the clients connected, against the
 *     same with none connected;
 *   - heap per idle client (after gc), against the heap with none connected.
 * Besides the figures, for where the time goes: the duration of the gateway's synchronous
 * `emit()` call, and the round trip while the clients receive a broadcast every 200 ms.
 * The real gateway runs in a child process (fixtures/gateway-server.ts) with a private Redis and a
 * temporary SQLite folder; the clients run in two more child processes (fixtures/gateway-clients.ts)
 * so that one client event loop does not make the whole figure. Every process stamps time with
 * `performance.timeOrigin + performance.now()`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedis, TestClient, waitFor, type RedisFixture } from '@llamaproxy/tests/harness';
import { percentile, row, type Bench, type BenchRow } from './bench.js';
import { IpcChild } from './fixtures/ipc-child.js';
import { now, type ClientsCommand, type ClientsMessage, type EmitMode, type ServerCommand, type ServerMessage } from './fixtures/protocol.js';

const CLIENTS = 2000;
const CLIENT_PROCESSES = 2;
/** Connections opened at once per client process (no SYN storm against the listen backlog). */
const CONNECT_BATCH = 50;
/** Connections per client process opened and closed before the baseline heap is taken. */
const WARMUP_CONNECTIONS = 200;
const PAYLOAD_BYTES = 1024;
const FANOUT_WARMUP_PER_MODE = 5;
const FANOUT_PER_MODE = 30;
const FANOUT_SPACING_MS = 200;
/** Broadcasts of the fan-out phase, both modes, warm-up included: seqs 1..FANOUT_SEQS. */
const FANOUT_SEQS = 2 * (FANOUT_WARMUP_PER_MODE + FANOUT_PER_MODE);
const ACK_WARMUP = 50;
const ACK_ROUNDS = 1000;
/** Paced rounds while broadcasting (about 3.5 s, some 17 broadcasts). */
const ACK_PACED_ROUNDS = 500;
/** Request spacing while broadcasting: not a divisor of the broadcast spacing, so phases vary. */
const ACK_PACING_MS = 7;

const FANOUT_P99_TARGET_MS = 25;
const ACK_P99_TARGET_MS = 10;
const HEAP_PER_CLIENT_TARGET_KB = 10;

type GatewayChild = IpcChild<ServerCommand, ServerMessage>;
type ClientsChild = IpcChild<ClientsCommand, ClientsMessage>;

/** File descriptors: the gateway holds every connection, plus Redis, SQLite and the rest. */
function checkOpenFileLimit(): void {
  const out = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim();
  const limit = out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
  const needed = CLIENTS + 512;
  if (!(limit >= needed)) {
    throw new Error(`ulimit -n is ${out}; ${CLIENTS} connections need at least ${needed} open files (raise it: ulimit -n 8192)`);
  }
}

/** `settings:get` round trips from the probe, one after another (or one per `pacingMs`); warm-up excluded. */
async function ackRoundTrips(probe: TestClient, rounds = ACK_ROUNDS, pacingMs = 0): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ACK_WARMUP + rounds; i++) {
    const started = now();
    const response = await probe.request('settings:get', {}, 5000);
    const elapsed = now() - started;
    if (!response.success) {
      throw new Error(`settings:get failed: ${response.error.code} ${response.error.message}`);
    }
    if (i >= ACK_WARMUP) {
      times.push(elapsed);
    }
    if (pacingMs > 0) {
      await sleep(Math.max(0, pacingMs - elapsed));
    }
  }
  return times;
}

/** Round trips while the gateway broadcasts 1 KB through the adapter every FANOUT_SPACING_MS. */
async function ackRoundTripsDuringBroadcasts(gateway: GatewayChild, probe: TestClient, firstSeq: number): Promise<number[]> {
  let stop = false;
  const broadcasting = (async () => {
    for (let seq = firstSeq; !stop; seq++) {
      await gateway.request({ type: 'emit', mode: 'adapter', bytes: PAYLOAD_BYTES, seq }, 'emitted');
      await sleep(FANOUT_SPACING_MS);
    }
  })();
  try {
    return await ackRoundTrips(probe, ACK_PACED_ROUNDS, ACK_PACING_MS);
  } finally {
    stop = true;
    await broadcasting;
  }
}

async function heapUsed(gateway: GatewayChild, expectedClients: number): Promise<number> {
  const reply = await gateway.request({ type: 'heap' }, 'heap');
  if (reply.clients !== expectedClients) {
    throw new Error(`the gateway has ${reply.clients} connections, expected ${expectedClients}`);
  }
  return reply.heapUsed;
}

interface FanoutResult {
  latencies: Record<EmitMode, number[]>;
  /** Duration of the synchronous `emit` call in the gateway, per emit. */
  emitMs: Record<EmitMode, number[]>;
  /** Per emit: the first and the last client's latency. */
  first: Record<EmitMode, number[]>;
  last: Record<EmitMode, number[]>;
  envelopeBytes: number;
}

async function fanout(gateway: GatewayChild, pools: ClientsChild[]): Promise<FanoutResult> {
  const done = new Map<number, number>();
  const offs = pools.map((pool) =>
    pool.on((m) => {
      if (m.type === 'received') {
        done.set(m.seq, (done.get(m.seq) ?? 0) + 1);
      }
    }),
  );
  const modeOf = new Map<number, EmitMode>();
  const emitMs: FanoutResult['emitMs'] = { adapter: [], local: [] };
  let envelopeBytes = 0;
  try {
    for (let seq = 1; seq <= FANOUT_SEQS; seq++) {
      // Interleaved, so that both modes see the same machine state over the run.
      const mode: EmitMode = seq % 2 === 1 ? 'adapter' : 'local';
      const measured = seq > 2 * FANOUT_WARMUP_PER_MODE;
      const reply = await gateway.request({ type: 'emit', mode, bytes: PAYLOAD_BYTES, seq }, 'emitted');
      envelopeBytes = reply.envelopeBytes;
      await waitFor(() => done.get(seq) === pools.length, { timeoutMs: 10_000, intervalMs: 2, what: `every client to receive broadcast ${seq}` });
      if (measured) {
        modeOf.set(seq, mode);
        emitMs[mode].push(reply.emitMs);
      }
      await sleep(FANOUT_SPACING_MS);
    }
  } finally {
    offs.forEach((off) => off());
  }

  const result: FanoutResult = { latencies: { adapter: [], local: [] }, emitMs, first: { adapter: [], local: [] }, last: { adapter: [], local: [] }, envelopeBytes };
  const perSeq = new Map<number, number[]>();
  for (const pool of pools) {
    const report = await pool.request({ type: 'report' }, 'report');
    for (const [seq, values] of report.latencies) {
      const all = perSeq.get(seq) ?? [];
      all.push(...values);
      perSeq.set(seq, all);
    }
  }
  for (const [seq, mode] of modeOf) {
    const values = perSeq.get(seq) ?? [];
    if (values.length !== CLIENTS) {
      throw new Error(`broadcast ${seq} reached ${values.length} of ${CLIENTS} clients`);
    }
    result.latencies[mode].push(...values);
    result.first[mode].push(Math.min(...values));
    result.last[mode].push(Math.max(...values));
  }
  return result;
}

const KB = 1024;
const MB = 1024 * 1024;
const ms = (values: number[], p: number): number => percentile(values, p);

const bench: Bench = {
  name: 'gateway',
  async run(): Promise<BenchRow[]> {
    checkOpenFileLimit();
    const log = (line: string): void => void process.stderr.write(`[gateway bench] ${line}\n`);
    let redis: RedisFixture | null = null;
    let dataDir: string | null = null;
    let gateway: GatewayChild | null = null;
    const pools: ClientsChild[] = [];
    let probe: TestClient | null = null;
    try {
      redis = await startRedis();
      dataDir = mkdtempSync(join(tmpdir(), 'llamaproxy-bench-gateway-'));
      gateway = new IpcChild<ServerCommand, ServerMessage>({
        name: 'gateway',
        script: 'tests/bench/fixtures/gateway-server.ts',
        nodeArgs: ['--expose-gc'],
        env: { NODE_ENV: 'production', LOG_FORMAT: 'json', LOG_LEVEL: 'warn', AUTH_MODE: 'none', RATE_LIMIT_REQUESTS_PER_SEC: '1000000', RATE_LIMIT_BURST: '1000000', MAX_CONNECTIONS_PER_ADDRESS: '100000', MAX_CONNECTIONS_PER_USER: '100000', REDIS_URL: redis.url, DATA_DIR: dataDir, GATEWAY_HOST: '127.0.0.1', GATEWAY_PORT: '0' },
      });
      const { port } = await gateway.next((m) => (m.type === 'ready' ? m : undefined), 60_000, 'ready message');
      const url = `http://127.0.0.1:${port}`;

      // Warm-up before any figure: the probe's round trips, and a round of connections opened and
      // closed, so that code compiled on the connection path is not counted as per-client heap.
      probe = await TestClient.connect(url);
      await ackRoundTrips(probe);
      const perProcess = CLIENTS / CLIENT_PROCESSES;
      for (let i = 0; i < CLIENT_PROCESSES; i++) {
        pools.push(new IpcChild<ClientsCommand, ClientsMessage>({ name: `clients-${i}`, script: 'tests/bench/fixtures/gateway-clients.ts' }));
      }
      await Promise.all(pools.map((pool) => pool.request({ type: 'connect', url, count: WARMUP_CONNECTIONS, batch: CONNECT_BATCH }, 'connected')));
      await Promise.all(pools.map((pool) => pool.request({ type: 'close' }, 'closed')));
      await waitFor(async () => (await gateway?.request({ type: 'heap' }, 'heap'))?.clients === 1, { timeoutMs: 30_000, what: 'the warm-up connections to close' });
      const heapIdle = await heapUsed(gateway, 1);

      const connected = await Promise.all(pools.map((pool) => pool.request({ type: 'connect', url, count: perProcess, batch: CONNECT_BATCH }, 'connected', 180_000)));
      log(`${CLIENTS} clients connected (snapshot received) in ${Math.max(...connected.map((c) => c.ms)).toFixed(0)} ms`);

      // Heap and round trip with the clients idle; the probe is connected in both heap figures.
      const heapLoaded = await heapUsed(gateway, CLIENTS + 1);
      const heapPerClient = (heapLoaded - heapIdle) / CLIENTS;
      const ackLoaded = await ackRoundTrips(probe);
      probe.close();
      probe = null;
      await waitFor(async () => (await gateway?.request({ type: 'heap' }, 'heap'))?.clients === CLIENTS, { timeoutMs: 10_000, what: 'the probe to disconnect' });

      // Fan-out to exactly CLIENTS connections.
      const f = await fanout(gateway, pools);
      for (const mode of ['adapter', 'local'] as const) {
        log(
          `${mode}: envelope ${f.envelopeBytes} B; emit() call p50 ${ms(f.emitMs[mode], 50).toFixed(2)} ms, max ${Math.max(...f.emitMs[mode]).toFixed(2)} ms; ` +
            `first client p50 ${ms(f.first[mode], 50).toFixed(2)} ms; last client p50 ${ms(f.last[mode], 50).toFixed(2)} ms, max ${Math.max(...f.last[mode]).toFixed(2)} ms`,
        );
      }

      // Round trip while broadcasting, then with no other client (the baseline, same warm gateway).
      probe = await TestClient.connect(url);
      const ackBroadcasting = await ackRoundTripsDuringBroadcasts(gateway, probe, FANOUT_SEQS + 1);
      await Promise.all(pools.map((pool) => pool.request({ type: 'close' }, 'closed')));
      await waitFor(async () => (await gateway?.request({ type: 'heap' }, 'heap'))?.clients === 1, { timeoutMs: 30_000, what: 'the clients to disconnect' });
      const ackIdle = await ackRoundTrips(probe);
      log(
        `ack p50/p99: ${ms(ackIdle, 50).toFixed(2)}/${ms(ackIdle, 99).toFixed(2)} ms with 0 clients, ${ms(ackLoaded, 50).toFixed(2)}/${ms(ackLoaded, 99).toFixed(2)} ms with ${CLIENTS} idle, ` +
          `${ms(ackBroadcasting, 50).toFixed(2)}/${ms(ackBroadcasting, 99).toFixed(2)} ms while broadcasting`,
      );

      const fanoutFigure = (mode: EmitMode, p: number): string =>
        `broadcast ${PAYLOAD_BYTES / 1024} KB → ${CLIENTS} clients, ${mode === 'adapter' ? 'Redis adapter (io.emit)' : 'io.local.emit'} (p${p})`;
      const local50 = ms(f.latencies.local, 50);
      const local99 = ms(f.latencies.local, 99);
      const adapter50 = ms(f.latencies.adapter, 50);
      const adapter99 = ms(f.latencies.adapter, 99);
      const ackLoaded99 = ms(ackLoaded, 99);
      const heapPerClientKb = heapPerClient / KB;
      return [
        row({ figure: fanoutFigure('adapter', 50), value: adapter50, unit: 'ms', baseline: local50, baselineLabel: 'io.local.emit' }),
        row({
          figure: fanoutFigure('adapter', 99),
          value: adapter99,
          unit: 'ms',
          baseline: local99,
          baselineLabel: 'io.local.emit',
          target: `< ${FANOUT_P99_TARGET_MS} ms`,
          met: adapter99 < FANOUT_P99_TARGET_MS,
        }),
        row({ figure: fanoutFigure('local', 50), value: local50, unit: 'ms' }),
        row({ figure: fanoutFigure('local', 99), value: local99, unit: 'ms', target: `< ${FANOUT_P99_TARGET_MS} ms`, met: local99 < FANOUT_P99_TARGET_MS }),
        row({
          figure: `gateway emit() call, Redis adapter (p50)`,
          value: ms(f.emitMs.adapter, 50),
          unit: 'ms',
          baseline: ms(f.emitMs.local, 50),
          baselineLabel: 'io.local.emit',
        }),
        row({ figure: `ack round trip settings:get, ${CLIENTS} idle clients (p50)`, value: ms(ackLoaded, 50), unit: 'ms', baseline: ms(ackIdle, 50), baselineLabel: '0 clients' }),
        row({
          figure: `ack round trip settings:get, ${CLIENTS} idle clients (p99)`,
          value: ackLoaded99,
          unit: 'ms',
          baseline: ms(ackIdle, 99),
          baselineLabel: '0 clients',
          target: `< ${ACK_P99_TARGET_MS} ms`,
          met: ackLoaded99 < ACK_P99_TARGET_MS,
        }),
        row({
          figure: `ack round trip, ${CLIENTS} clients, 1 KB broadcast every ${FANOUT_SPACING_MS} ms (p99)`,
          value: ms(ackBroadcasting, 99),
          unit: 'ms',
          baseline: ackLoaded99,
          baselineLabel: 'idle clients',
        }),
        row({ figure: 'gateway heap after gc, 0 clients (probe only)', value: heapIdle / MB, unit: 'MB' }),
        row({ figure: `gateway heap after gc, ${CLIENTS} idle clients (+ probe)`, value: heapLoaded / MB, unit: 'MB', baseline: heapIdle / MB, baselineLabel: '0 clients' }),
        row({
          figure: 'heap per idle client',
          value: heapPerClientKb,
          unit: 'KB',
          target: `≤ ${HEAP_PER_CLIENT_TARGET_KB} KB`,
          met: heapPerClientKb <= HEAP_PER_CLIENT_TARGET_KB,
        }),
      ];
    } finally {
      probe?.close();
      await Promise.all(pools.map((pool) => pool.stop()));
      await gateway?.stop(10_000);
      await redis?.stop();
      if (dataDir !== null) {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  },
};

export default bench;
