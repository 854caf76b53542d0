import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LlamaStatus } from '@llamaproxy/shared';
import { childProcesses, expectOk, listRouterModels, processCommandLine, processExists, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/**
 * llama-server killed with SIGKILL (an OOM kill, a segfault) while idle, while a model loads and
 * while a completion streams: the dashboard sees every transition in order, llama-server comes
 * back with backoff, a `load-on-startup` model is loaded again, and nothing waits forever.
 */
describe('fault: llama-server killed', () => {
  let stack: FaultStack;
  let client: TestClient;
  let observer: TestClient;

  /** The observer's llama:status broadcasts received after index `from`, as states. */
  const llamaBroadcasts = (from: number): LlamaStatus[] => observer.broadcasts('llama:status').slice(from).map((e) => e.data.status);
  const waitLlamaSince = (from: number, predicate: (s: LlamaStatus) => boolean, what: string, timeoutMs: number): Promise<LlamaStatus> =>
    waitFor(() => llamaBroadcasts(from).find(predicate), { timeoutMs, what: `llama:status broadcast: ${what}` });
  const runningPid = async (): Promise<number> => {
    const status = await stack.waitForLlama((s) => s.state === 'running' && s.pid !== null, 'llama-server running');
    return status.pid as number;
  };

  /**
   * Kills llama-server and checks what every client saw: crashed (with the signal and a planned
   * restart), then starting, then running with a new pid, in that order.
   */
  async function killAndExpectRestart(pid: number, kill: () => void = () => process.kill(pid, 'SIGKILL')): Promise<LlamaStatus> {
    const from = observer.broadcasts('llama:status').length;
    kill();
    // The supervisor learns of the exit from the kernel at once; the deadline covers Redis, the
    // gateway and a busy 2-core machine, not a guess at how long it takes.
    const crashed = await waitLlamaSince(from, (s) => s.state === 'crashed' && s.lastExit?.signal === 'SIGKILL', 'crashed by SIGKILL', 5_000);
    expect(crashed.nextRestartAt).toBeGreaterThan(crashed.lastExit?.at ?? 0);
    const back = await waitLlamaSince(from, (s) => s.state === 'running' && s.pid !== pid, 'running again', 60_000);
    const states = llamaBroadcasts(from).map((s) => s.state);
    const crashedAt = states.indexOf('crashed');
    const startingAt = states.indexOf('starting', crashedAt);
    const runningAt = states.indexOf('running', startingAt);
    expect(crashedAt, `states seen: ${states.join(' → ')}`).toBeGreaterThanOrEqual(0);
    expect(startingAt, `states seen: ${states.join(' → ')}`).toBeGreaterThan(crashedAt);
    expect(runningAt, `states seen: ${states.join(' → ')}`).toBeGreaterThan(startingAt);
    expect(processExists(pid)).toBe(false);
    return back;
  }

  const modelBroadcastsSince = (modelId: string, from: number) =>
    observer
      .broadcasts('models:status')
      .slice(from)
      .filter((e) => e.data.model.id === modelId)
      .map((e) => e.data.model.status);

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'llama-crash', llamaServerBin: inject('llamaServerBin') });
    client = await stack.connect();
    observer = await stack.connect();
    // tiny-llama-a is loaded whenever llama-server starts.
    const { revision } = expectOk(await client.request('models:settings:get', { modelId: 'tiny-llama-a' }));
    const update = expectOk(await client.request('models:settings:update', { modelId: 'tiny-llama-a', revision, settings: { 'load-on-startup': 'true' } }));
    await observer.waitForBroadcast('jobs:progress', (e) => e.data.job.jobId === update.job.jobId && e.data.state === 'completed', { timeoutMs: 30_000 });
    expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' }));
    await stack.diagnose(() => observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded', { timeoutMs: 60_000 }));
  });

  afterAll(async () => {
    await stack?.dispose();
  });

  it('while idle: reports the crash, restarts with backoff, and loads the load-on-startup model again', async () => {
    const pid = await runningPid();
    const modelsFrom = observer.broadcasts('models:status').length;
    const back = await stack.diagnose(() => killAndExpectRestart(pid));
    expect(back.restarts).toBeGreaterThanOrEqual(1);
    // The dashboard showed the model gone with llama-server, then loaded again by the router.
    await stack.diagnose(() =>
      waitFor(() => {
        const seen = modelBroadcastsSince('tiny-llama-a', modelsFrom);
        const gone = seen.indexOf('unloaded');
        return gone >= 0 && seen.indexOf('loaded', gone) > gone;
      }, { timeoutMs: 60_000, what: 'tiny-llama-a unloaded, then loaded again' }),
    );
    const model = expectOk(await client.request('models:get', { modelId: 'tiny-llama-a' })).model;
    expect(model.state.status).toBe('loaded');
    // The crash and the restart are in the log the dashboard shows.
    const logs = expectOk(await client.request('logs:query', { source: 'supervisor', limit: 200 })).entries.map((e) => e.message);
    expect(logs).toEqual(expect.arrayContaining([expect.stringContaining('llama-server crashed; restarting')]));
  });

  it('while loading: the load job ends (completed on retry, or failed with why), the model is never left loading', async () => {
    const pid = await runningPid();
    const job = expectOk(await client.request('models:load', { modelId: 'tiny-llama-b' })).job;
    expect(job.created).toBe(true);
    // Catch the model instance as the router spawns it and freeze it (SIGSTOP), so that the kill
    // lands while it is loading however fast this machine is.
    const instance = await waitFor(() => childProcesses(pid).find((child) => processCommandLine(child).includes('tiny-llama-b')), {
      timeoutMs: 20_000,
      intervalMs: 2,
      what: 'the model instance of tiny-llama-b',
    });
    process.kill(instance, 'SIGSTOP');
    await observer.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-b' && e.data.model.status === 'loading', { timeoutMs: 20_000 });
    await stack.diagnose(() => killAndExpectRestart(pid));
    // The frozen instance went with its router's process group.
    await waitFor(() => !processExists(instance), { timeoutMs: 5_000, what: `model instance ${instance} to be gone` });

    const outcome = await observer.waitForBroadcast(
      'jobs:progress',
      (e) => e.data.job.jobId === job.jobId && (e.data.state === 'completed' || e.data.state === 'failed'),
      { timeoutMs: 90_000 },
    );
    if (outcome.data.state === 'failed') {
      expect(outcome.data.error?.code).toMatch(/^(LLAMA_CRASHED|LLAMA_NOT_RUNNING|MODEL_LOAD_FAILED)$/);
      expect(outcome.data.error?.message.length).toBeGreaterThan(0);
    }
    // What the dashboard shows agrees with the router (load-on-startup may have evicted
    // tiny-llama-b again since: --models-max is 1), and it is not `loading`.
    await stack.diagnose(() =>
      waitFor(
        async () => {
          const shown = expectOk(await client.request('models:get', { modelId: 'tiny-llama-b' })).model.state.status;
          const router = (await listRouterModels(stack.llamaUrl)).find((m) => m.id === 'tiny-llama-b')?.status.value;
          return shown !== 'loading' && shown === router;
        },
        { timeoutMs: 30_000, what: 'tiny-llama-b shown as the router has it, not loading' },
      ),
    );
  });

  it('while generating: the streamed completion ends with an error, and llama-server comes back', async () => {
    // Whatever the previous case left loaded, tiny-llama-a is loaded again for this one.
    expectOk(await client.request('models:load', { modelId: 'tiny-llama-a' }));
    await waitFor(async () => expectOk(await client.request('models:get', { modelId: 'tiny-llama-a' })).model.state.status === 'loaded', {
      timeoutMs: 60_000,
      what: 'tiny-llama-a loaded',
    });
    const pid = await runningPid();
    const instance = childProcesses(pid).find((child) => processCommandLine(child).includes('tiny-llama-a'));
    expect(instance, 'the model instance of tiny-llama-a').toBeDefined();
    const response = await fetch(`${stack.llamaUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Long enough (about half a second here) that the test still reads the first token while the
      // rest is being generated, even when this process is slow to read: 400 tokens took 90 ms,
      // and on a loaded machine the whole answer was buffered before the first read.
      body: JSON.stringify({ model: 'tiny-llama-a', stream: true, max_tokens: 2000, ignore_eos: true, prompt: 'Once upon a time' }),
    });
    expect(response.status).toBe(200);
    let text = '';
    let killed = false;
    const read = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        if (!killed && text.includes('data: ')) {
          // The first token is out: the generation is in flight. The instance is frozen first, so
          // that a tiny model cannot finish before the kill lands.
          killed = true;
          process.kill(instance as number, 'SIGSTOP');
          process.kill(pid, 'SIGKILL');
        }
      }
    })();
    const from = observer.broadcasts('llama:status').length;
    const error = await read.then(() => null, (err: unknown) => err as Error);
    expect(killed).toBe(true);
    // The client is told: the stream breaks off (no final chunk, no [DONE]), as an error.
    expect(error, `stream ended normally: ${text.slice(-200)}`).not.toBeNull();
    expect(text).not.toContain('[DONE]');
    expect(text).not.toMatch(/"finish_reason":"(stop|length)"/);
    await waitLlamaSince(from, (s) => s.state === 'crashed' && s.lastExit?.signal === 'SIGKILL', 'crashed by SIGKILL', 5_000);
    await waitLlamaSince(from, (s) => s.state === 'running' && s.pid !== pid, 'running again', 60_000);
    // And it serves again.
    await waitFor(async () => expectOk(await client.request('models:get', { modelId: 'tiny-llama-a' })).model.state.status === 'loaded', {
      timeoutMs: 60_000,
      what: 'tiny-llama-a loaded again (load-on-startup)',
    });
    const again = await fetch(`${stack.llamaUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-llama-a', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(again.status).toBe(200);
  });
});
