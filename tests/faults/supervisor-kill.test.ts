import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { childProcesses, expectOk, killProcessGroup, listRouterModels, processCommandLine, processGroupMembers, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/**
 * The supervisor killed with SIGKILL while a model loads (an OOM kill of the container's main
 * process, a crash): its llama-server is not left running unowned, the load job ends (retried or
 * failed) instead of hanging, and the model is never shown `loading` for good.
 */
describe('fault: supervisor killed during a load', { timeout: 180_000 }, () => {
  let stack: FaultStack;
  let client: TestClient;
  let orphanGroup: number | null = null;

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'supervisor-kill', llamaServerBin: inject('llamaServerBin') });
    client = await stack.connect();
  });

  afterAll(async () => {
    if (orphanGroup !== null) {
      // Whatever the outcome, this test leaves no llama-server behind.
      killProcessGroup(orphanGroup, 'SIGKILL');
    }
    await stack?.dispose();
  });

  it('leaves no orphaned llama-server, and the load ends instead of staying loading', async () => {
    const router = await stack.waitForLlama((s) => s.state === 'running' && s.pid !== null, 'running');
    const routerPid = router.pid as number;
    // llama-server runs in its own process group (so its model instances go with it).
    orphanGroup = routerPid;
    const job = expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' })).job;
    const instance = await waitFor(() => childProcesses(routerPid).find((child) => processCommandLine(child).includes('tiny-llama-a')), {
      timeoutMs: 20_000,
      intervalMs: 2,
      what: 'the model instance of tiny-llama-a',
    });
    // Frozen mid-load, so that the supervisor dies while the load is in flight.
    process.kill(instance, 'SIGSTOP');
    await client.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loading', { timeoutMs: 20_000 });

    stack.supervisor.kill('SIGKILL');
    await stack.supervisor.exited;
    const survivors = processGroupMembers(routerPid);
    // Let the frozen instance go on, as an unattended machine would.
    process.kill(instance, 'SIGCONT');

    stack.startSupervisor();
    // A new supervisor owns llama-server: either it adopted the old one, or the old group is gone
    // and it started its own. Never two, never one that nobody owns.
    const running = await stack.diagnose(() =>
      waitFor(
        async () => {
          const node = expectOk(await client.request('llama:status', {})).nodes.find((n) => n.nodeId === stack.nodeId);
          return node?.state === 'running' && node.pid !== null && node.updatedAt > router.updatedAt ? node : undefined;
        },
        { timeoutMs: 60_000, what: 'llama-server running under the new supervisor' },
      ).catch((err: unknown) => {
        const published = stack.llamaStatuses().slice(-4).map((s) => `${s.state} pid=${s.pid} at=${s.updatedAt}`);
        throw new Error(`${(err as Error).message}; old group now: ${processGroupMembers(routerPid).map(processCommandLine).join(' | ')}; published: ${published.join(', ')}`);
      }),
    );
    const adopted = running.pid === routerPid;
    if (!adopted) {
      await stack.diagnose(() =>
        waitFor(() => processGroupMembers(routerPid).length === 0, {
          timeoutMs: 15_000,
          what: `the old llama-server's process group ${routerPid} (${survivors.length} processes at the kill: ${survivors.map(processCommandLine).join(' | ')}) to be gone`,
        }),
      );
      orphanGroup = null;
    }
    // Only the owned server answers on the port, and it stays up (no crash loop against an orphan).
    const settled = await stack.diagnose(() =>
      waitFor(
        async () => {
          const node = expectOk(await client.request('llama:status', {})).nodes.find((n) => n.nodeId === stack.nodeId);
          return node?.state === 'running' && node.pid === running.pid ? node : undefined;
        },
        { timeoutMs: 15_000, what: 'llama-server still running with the same pid' },
      ),
    );
    expect(settled.restarts).toBe(running.restarts);
    expect(processCommandLine(running.pid as number)).toContain(`--port ${stack.llamaPort}`);

    // The job ends: completed on a retry once BullMQ sees it stalled, or failed with why.
    const outcome = await stack.diagnose(() =>
      client.waitForBroadcast(
        'jobs:progress',
        (e) => e.data.job.jobId === job.jobId && (e.data.state === 'completed' || e.data.state === 'failed'),
        { timeoutMs: 120_000 },
      ),
    );
    if (outcome.data.state === 'failed') {
      expect(outcome.data.error?.message.length).toBeGreaterThan(0);
    }
    // And the model is shown as the router has it, not `loading`.
    await stack.diagnose(() =>
      waitFor(
        async () => {
          const shown = expectOk(await client.request('models:get', { modelId: 'tiny-llama-a' })).model.state.status;
          const actual = (await listRouterModels(stack.llamaUrl)).find((m) => m.id === 'tiny-llama-a')?.status.value;
          return shown !== 'loading' && shown === actual;
        },
        { timeoutMs: 30_000, what: 'tiny-llama-a shown as the router has it' },
      ),
    );
  });
});
