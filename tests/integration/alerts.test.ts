import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AlertMessageSchema, type AlertMessage } from '@llamaproxy/shared';
import { expectOk, HttpReceiver, waitFor, type TestClient } from '@llamaproxy/tests/harness';
import { FaultStack } from '../faults/support/stack.js';

/**
 * Alerts from the real thing: a supervisor running a real llama-server in router mode, a gateway,
 * and a local webhook receiver. `kill -9` of llama-server is notified within seconds and resolved
 * after the supervisor restarted it; a model that fails to load is notified with its cause.
 */
describe('alerts from a real llama-server', () => {
  let stack: FaultStack;
  let client: TestClient;
  let receiver: HttpReceiver;

  const received = (): { at: number; message: AlertMessage }[] =>
    receiver.delivered('/hook').map((r) => ({ at: r.at, message: AlertMessageSchema.parse(JSON.parse(r.body)) }));
  const waitMessage = (what: string, predicate: (m: AlertMessage) => boolean, timeoutMs: number) =>
    stack.diagnose(() => waitFor(() => received().find((r) => predicate(r.message)), { timeoutMs, what }));

  beforeAll(async () => {
    receiver = await HttpReceiver.start();
    stack = await FaultStack.start({ name: 'alerts', llamaServerBin: inject('llamaServerBin'), gatewayEnv: { ALERTS_EVAL_INTERVAL_MS: '250', ALERTS_RETRY_BACKOFF_MS: '200' } });
    client = await stack.connect();
    expectOk(await client.request('alerts:channels:create', { name: 'hook', config: { kind: 'webhook', settings: {}, secrets: { url: `${receiver.url}/hook` } } }));
  });

  afterAll(async () => {
    await stack?.dispose();
    await receiver?.close();
  });

  it('kill -9 of llama-server: a crash alert within seconds, resolved after the restart', async () => {
    const running = await stack.waitForLlama((s) => s.state === 'running' && s.pid !== null, 'llama-server running');
    const killedAt = Date.now();
    process.kill(running.pid as number, 'SIGKILL');
    const crash = await waitMessage('crash alert', (m) => m.ruleId === 'llama-crashed' && m.event === 'firing', 10_000);
    expect(crash.at - killedAt).toBeLessThan(5000);
    expect(crash.message.subject).toBe(stack.nodeId);
    expect(crash.message.text).toContain('exited (SIGKILL)');
    const resolved = await waitMessage('crash resolved', (m) => m.ruleId === 'llama-crashed' && m.event === 'resolved', 60_000);
    expect(resolved.at).toBeGreaterThanOrEqual(crash.at);
    // By then llama-server runs again under a new pid.
    expect(expectOk(await client.request('llama:status', {})).nodes.find((n) => n.nodeId === stack.nodeId)?.pid).not.toBe(running.pid);
  });

  it('a model that fails to load is notified with the cause from its log', async () => {
    // A well-formed GGUF whose architecture llama.cpp does not know: the catalogue accepts it, the load fails.
    const model = readFileSync(join(stack.modelsDir, 'tiny-llama-a.gguf'));
    const key = model.indexOf('general.architecture');
    const value = key + 'general.architecture'.length + 4 + 8;
    expect(model.subarray(value, value + 5).toString()).toBe('llama');
    model.write('zzzzz', value);
    writeFileSync(join(stack.modelsDir, 'alien.gguf'), model);
    await stack.diagnose(() =>
      waitFor(async () => expectOk(await client.request('models:list', {})).models.some((m) => m.id === 'alien'), { timeoutMs: 30_000, what: 'alien in the catalogue' }),
    );
    const load = await client.request('models:load', { modelId: 'alien' });
    expect(load.success).toBe(true);
    const alert = await waitMessage('load failure alert', (m) => m.ruleId === 'model-load-failed' && m.event === 'firing', 60_000);
    expect(alert.message.subject).toBe(`${stack.nodeId}/alien`);
    expect(alert.message.text).toMatch(/^alien failed to load: unsupported model \(.*architecture/);
  });
});
