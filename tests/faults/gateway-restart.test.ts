import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Cursors } from '@llamaproxy/shared';
import { expectOk, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/**
 * The gateway killed with SIGKILL and started again: every write it acknowledged is there after
 * the restart, and a client that reconnects and resumes from its cursors has every log line once.
 */
describe('fault: gateway killed and restarted', () => {
  let stack: FaultStack;

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'gateway-restart', llamaServerBin: inject('llamaServerBin') });
  });

  afterAll(async () => {
    await stack?.dispose();
  });

  it('loses no acknowledged write, and a resuming client has every log line once', async () => {
    const client = await stack.connect();
    const snapshot = await client.waitForBroadcast('snapshot');
    /** Every log id the client has, in the order it got them. */
    const seen: number[] = snapshot.data.logs.map((e) => e.id);
    const liveIds = (c: TestClient): number[] => c.broadcasts('logs:entry').flatMap((e) => e.data.entries.map((entry) => entry.id));

    // Acknowledged writes: the configuration first, applied before the load below (applying it
    // restarts llama-server, which would unload a model loaded before it) ...
    const config = expectOk(await client.request('config:get', {}));
    const configWrite = expectOk(await client.request('config:update', { config: { parallel: 2 }, revision: config.revision }));
    await client.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === configWrite.job.jobId && e.data.state === 'completed', { timeoutMs: 30_000 });
    // ... log lines flowing: llama-server's and the supervisor's output of a load (and an unload) ...
    const load = expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' })).job;
    // ... and more writes, the last one just before the kill.
    let settingsRevision = expectOk(await client.request('models:settings:get', { modelId: 'tiny-llama-b' })).revision;
    for (const ctx of ['256', '320', '384']) {
      settingsRevision = expectOk(await client.request('models:settings:update', { modelId: 'tiny-llama-b', revision: settingsRevision, settings: { 'ctx-size': ctx } })).revision;
    }
    await client.waitForBroadcast('logs:entry', () => true, { timeoutMs: 30_000 });
    stack.gateway.kill('SIGKILL');
    await stack.gateway.exited;
    seen.push(...liveIds(client));
    await waitFor(() => !client.socket.connected, { timeoutMs: 10_000, what: 'the client to notice the gateway is gone' });
    const cursors: Cursors = {
      logId: Math.max(snapshot.data.cursors.logId, ...seen),
      eventSeq: Math.max(snapshot.data.cursors.eventSeq, ...client.received.flatMap((r) => (typeof (r.payload as { seq?: unknown }).seq === 'number' ? [(r.payload as { seq: number }).seq] : []))),
    };

    // Meanwhile the supervisor keeps reporting (the unload's lines wait in the Redis stream).
    stack.startGateway();
    await stack.diagnose(() => stack.waitGatewayReady());

    // The client reconnects and resumes from its cursors.
    const back = await stack.connect();
    const resumed = expectOk(await back.request('snapshot:get', { cursors }));
    expect(resumed.logsTruncated).toBe(false);
    const resumedIds = resumed.logs.map((e) => e.id);
    // Oldest first, each after the cursor: nothing the client had is sent again.
    expect(resumedIds).toEqual([...resumedIds].sort((a, b) => a - b));
    expect(resumedIds.every((id) => id > cursors.logId)).toBe(true);
    seen.push(...resumedIds);

    // Every acknowledged write is there.
    expect(expectOk(await back.request('config:get', {}))).toMatchObject({ revision: configWrite.revision, config: { parallel: 2 } });
    expect(expectOk(await back.request('models:settings:get', { modelId: 'tiny-llama-b' }))).toMatchObject({ revision: settingsRevision, settings: { 'ctx-size': '384' } });

    // More lines after the restart, live: the load finishes (or has), then an unload.
    await waitFor(async () => expectOk(await back.request('models:get', { modelId: 'tiny-llama-a' })).model.state.status === 'loaded', {
      timeoutMs: 60_000,
      what: `tiny-llama-a loaded (job ${load.jobId})`,
    });
    expectOk(await back.request('models:unload', { modelId: 'tiny-llama-a' }));
    await back.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'unloaded', { timeoutMs: 60_000 });

    // The client's view (resumed, then live; a live line that the resume answer also had counts
    // once, as the dashboard keys lines by id) equals the database from its first line on.
    const first = Math.min(...seen);
    const db = stack.openDb();
    try {
      await stack.diagnose(() =>
        waitFor(
          () => {
            const have = new Set([...seen, ...liveIds(back)]);
            const stored = (db.prepare('SELECT id FROM logs WHERE id >= ? ORDER BY id').all(first) as { id: number }[]).map((r) => r.id);
            const missing = stored.filter((id) => !have.has(id));
            const extra = [...have].filter((id) => !stored.includes(id));
            return missing.length === 0 && extra.length === 0 && stored.length > 0 ? stored : undefined;
          },
          { timeoutMs: 30_000, what: 'the client to have every stored log line, and no other' },
        ),
      );
      // Before the kill and in the resume answer, no line came twice.
      expect(new Set(seen).size).toBe(seen.length);
      // Nothing the supervisor sent was stored twice (a redelivered stream entry is recognised).
      const doubled = db
        .prepare("SELECT message, COUNT(*) AS n FROM logs WHERE source = 'supervisor' AND message LIKE 'job done%' GROUP BY message HAVING n > 1")
        .all();
      expect(doubled).toEqual([]);
    } finally {
      db.close();
    }
    // Longer than the sum of the waits above, so a failure names the step that did not happen.
  }, 200_000);
});
