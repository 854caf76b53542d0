import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { expectError, expectOk, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/**
 * The outage the tracker asks for is 30 s; FAULT_REDIS_OUTAGE_MS shortens it for a quick local run
 * (never below 10 s: the services' reconnect backoff must be exercised, not a blip).
 */
const OUTAGE_MS = Math.max(10_000, Number(process.env.FAULT_REDIS_OUTAGE_MS ?? 30_000));

/**
 * Redis (the harness's own redis-server, with its append-only file) dies and comes back on the
 * same port. Every service reconnects by itself; a control job accepted before the outage runs
 * once; meanwhile the gateway serves its snapshot and refuses intents with QUEUE_UNAVAILABLE at
 * once; what the supervisor reported while Redis was away arrives, once.
 */
describe('fault: Redis stopped and restarted', { timeout: OUTAGE_MS + 120_000 }, () => {
  let stack: FaultStack;
  let client: TestClient;

  /** Lines of the supervisor's own output (JSON) with this message and job id. */
  const supervisorLines = (message: string, jobId: string): number =>
    stack.supervisor.lines.filter((line) => line.includes(`"message":"${message}"`) && line.includes(jobId)).length;

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'redis-outage', llamaServerBin: inject('llamaServerBin') });
    client = await stack.connect();
    await waitFor(async () => expectOk(await client.request('models:list', {})).models.length === 2, { timeoutMs: 30_000, what: 'catalogue ingested' });
  });

  afterAll(async () => {
    if (stack?.supervisor.pid !== undefined) {
      // Never leave it frozen, whatever failed.
      process.kill(stack.supervisor.pid, 'SIGCONT');
    }
    await stack?.dispose();
  });

  it(`keeps accepted work, serves and refuses clearly while Redis is away ${OUTAGE_MS / 1000} s, and recovers by itself`, async () => {
    const supervisorPid = stack.supervisor.pid as number;
    const readyLines = (): number => stack.supervisor.lines.filter((l) => l.includes('"message":"llama-server is ready"')).length;
    const readyBefore = readyLines();
    expect(readyBefore).toBeGreaterThan(0);
    const llamaPid = (await stack.waitForLlama((s) => s.state === 'running' && s.pid !== null, 'running')).pid as number;

    // A job accepted just before the outage, still waiting in Redis: the supervisor is frozen
    // (SIGSTOP keeps its connections, so the gateway still sees a worker and accepts the job).
    process.kill(supervisorPid, 'SIGSTOP');
    const accepted = expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' })).job;
    expect(accepted.created).toBe(true);

    // Redis dies (SIGKILL: nothing flushed on the way out; the AOF holds every acknowledged write).
    await stack.redis.stop('SIGKILL');
    const outageStarted = Date.now();
    process.kill(supervisorPid, 'SIGCONT');

    // While it is away, llama-server crashes: the supervisor must report that once Redis is back.
    process.kill(llamaPid, 'SIGKILL');

    // The gateway answers intents at once with QUEUE_UNAVAILABLE (the request's own 5 s ack
    // timeout is the "never a hang" bound) ...
    expectError(await client.request('models:load', { modelId: 'tiny-llama-b' }, 5_000), 'QUEUE_UNAVAILABLE');
    expectError(await client.request('llama:restart', {}, 5_000), 'QUEUE_UNAVAILABLE');
    // ... and serves what it has: a client connecting now gets the full snapshot from SQLite.
    const late = await stack.connect();
    const snapshot = await late.waitForBroadcast('snapshot', () => true, { timeoutMs: 10_000 });
    expect(snapshot.data.models.map((m) => m.id).sort()).toEqual(['tiny-llama-a', 'tiny-llama-b']);
    expect(snapshot.data.nodes.map((n) => n.nodeId)).toContain(stack.nodeId);
    expect(expectOk(await client.request('config:get', {}, 5_000)).revision).toBeGreaterThanOrEqual(0);
    const ready = await fetch(`${stack.gatewayUrl}/readyz`);
    expect(ready.status).toBe(503);

    // The supervisor restarts llama-server on its own meanwhile (it needs no Redis for that).
    await waitFor(() => readyLines() > readyBefore, {
      timeoutMs: 30_000,
      what: 'llama-server restarted during the outage',
    });
    await waitFor(() => Date.now() - outageStarted >= OUTAGE_MS, { timeoutMs: OUTAGE_MS + 1_000, intervalMs: 250, what: 'the outage to last' });

    // Redis comes back on the same port, with the same data.
    await stack.redis.start();

    // Every service reconnects by itself: the gateway is ready again ...
    await stack.diagnose(() =>
      waitFor(async () => (await fetch(`${stack.gatewayUrl}/readyz`)).ok, { timeoutMs: 60_000, what: 'gateway ready after the outage' }),
    );
    // ... the job accepted before the outage runs, once ...
    const done = await stack.diagnose(() =>
      client.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === accepted.jobId && (e.data.state === 'completed' || e.data.state === 'failed'), { timeoutMs: 60_000 }),
    );
    expect(done.data.state).toBe('completed');
    expect(expectOk(await client.request('models:get', { modelId: 'tiny-llama-a' })).model.state.status).toBe('loaded');
    // ... the dashboard learns that llama-server was restarted with a new pid (the state republished after the reconnect) ...
    await stack.diagnose(() =>
      waitFor(async () => {
        const node = expectOk(await client.request('llama:status', {})).nodes.find((n) => n.nodeId === stack.nodeId);
        return node?.state === 'running' && node.pid !== llamaPid && node.restarts >= 1;
      }, { timeoutMs: 30_000, what: 'the restarted llama-server shown' }),
    );
    // ... and new intents are taken again.
    const after = expectOk(await client.request('models:load', { modelId: 'tiny-llama-b' })).job;
    await client.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === after.jobId && e.data.state === 'completed', { timeoutMs: 60_000 });

    // Run once: one "job done" for it in the supervisor's own output and in the stored log, and
    // one stored outcome.
    await waitFor(() => supervisorLines('job done', accepted.jobId) >= 1, { timeoutMs: 10_000, what: 'job done line' });
    expect(supervisorLines('job done', accepted.jobId)).toBe(1);
    const db = stack.openDb();
    try {
      const jobRows = db.prepare('SELECT state FROM jobs WHERE job_id = ?').all(accepted.jobId);
      expect(jobRows).toEqual([{ state: 'completed' }]);
      // What the supervisor logged while Redis was away was buffered and stored once.
      await waitFor(
        () => (db.prepare("SELECT COUNT(*) AS n FROM logs WHERE source = 'supervisor' AND message LIKE 'llama-server crashed; restarting%'").get() as { n: number }).n > 0,
        { timeoutMs: 30_000, what: 'the crash logged during the outage stored' },
      );
      const crashLines = db.prepare("SELECT message FROM logs WHERE source = 'supervisor' AND message LIKE 'llama-server crashed; restarting%'").all();
      expect(crashLines).toHaveLength(1);
      const doneLines = db.prepare("SELECT message FROM logs WHERE source = 'supervisor' AND message LIKE 'job done%' AND message LIKE ?").all(`%${accepted.jobId}%`);
      expect(doneLines).toHaveLength(1);
    } finally {
      db.close();
    }
  });
});
