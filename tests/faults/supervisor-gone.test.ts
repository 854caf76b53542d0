import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NODE_OFFLINE_AFTER_MS } from '@llamaproxy/shared';
import { childProcesses, expectOk, killProcessGroup, processCommandLine, processGroupMembers, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/**
 * The supervisor killed with SIGKILL and never started again (an OOM kill, `docker compose stop`
 * of a hung container, a crash loop given up): its llama-server and every model instance go with it
 * (no orphan holding the GPU and the port), and the gateway shows the node stale within seconds
 * (its presence key expires), not after NODE_OFFLINE_AFTER_MS of silence.
 */
describe('fault: supervisor killed and gone', { timeout: 180_000 }, () => {
  let stack: FaultStack;
  let client: TestClient;
  let group: number | null = null;

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'supervisor-gone', llamaServerBin: inject('llamaServerBin') });
    client = await stack.connect();
  });

  afterAll(async () => {
    if (group !== null) {
      killProcessGroup(group, 'SIGKILL'); // whatever the outcome, nothing is left behind
    }
    await stack?.dispose();
  });

  it('takes llama-server and its model instances with it, and the gateway marks the node stale at once', async () => {
    const router = await stack.waitForLlama((s) => s.state === 'running' && s.pid !== null, 'running');
    const routerPid = router.pid as number;
    group = routerPid;
    expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' }));
    await client.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded', { timeoutMs: 60_000 });
    const instance = childProcesses(routerPid).find((pid) => processCommandLine(pid).includes('tiny-llama-a'));
    expect(instance).toBeDefined();
    await waitFor(async () => expectOk(await client.request('snapshot:get', {})).nodes.find((n) => n.nodeId === stack.nodeId)?.online === true, {
      timeoutMs: 20_000,
      what: 'the node shown online',
    });

    stack.supervisor.kill('SIGKILL');
    await stack.supervisor.exited;

    // No orphan: the router and its model instance are gone, without a new supervisor to reap them.
    await stack.diagnose(() =>
      waitFor(() => processGroupMembers(routerPid).length === 0, {
        timeoutMs: 10_000,
        what: `llama-server's process group ${routerPid} to be gone (left: ${processGroupMembers(routerPid).map(processCommandLine).join(' | ')})`,
      }),
    );
    group = null;
    expect(processGroupMembers(routerPid)).toEqual([]);

    // Stale, told to every client, well before the silence rule (NODE_OFFLINE_AFTER_MS) would say so.
    const stale = await client.waitForBroadcast('nodes:status', (e) => e.data.node.nodeId === stack.nodeId && !e.data.node.online, {
      timeoutMs: NODE_OFFLINE_AFTER_MS / 3,
    });
    expect(stale.data.node.stale).toBe(true);
    // A client that connects now sees the node stale in its snapshot.
    const late = await stack.connect();
    const snapshot = await late.waitForBroadcast('snapshot', () => true, { timeoutMs: 10_000 });
    expect(snapshot.data.nodes.find((n) => n.nodeId === stack.nodeId)).toMatchObject({ online: false, stale: true });
  });
});
