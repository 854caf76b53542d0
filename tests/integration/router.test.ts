import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoModels, writeDemoModels } from '../src/gguf/tiny-model.js';
import { collectModelEvents, listRouterModels, startLlamaRouter, waitForModelStatus, type LlamaRouter } from '../src/harness/index.js';

/**
 * The foundation's proof: the llama-server the harness provides runs in router mode over two
 * generated models, loads on request, answers a chat completion, evicts by LRU with
 * --models-max 1, reports it all on /models/sse, and leaves no process behind.
 */
describe('llama-server router mode with generated models', () => {
  let dir: string;
  let router: LlamaRouter;
  const [a, b] = demoModels(2).map((m) => m.id) as [string, string];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-router-'));
    await writeDemoModels(dir, { count: 2 });
    router = await startLlamaRouter({ modelsDir: dir, modelsMax: 1 });
  });

  afterAll(async () => {
    await router?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists both generated models, unloaded', async () => {
    const models = await listRouterModels(router.url);
    expect(models.map((m) => m.id).sort()).toEqual([a, b]);
    expect(models.every((m) => m.status.value === 'unloaded')).toBe(true);
  });

  it('loads a model, answers a chat completion, then evicts it for the second (LRU), with SSE events', async () => {
    const sse = collectModelEvents(router.url);
    await sse.ready;

    const load = await fetch(`${router.url}/models/load`, { method: 'POST', body: JSON.stringify({ model: a }) });
    expect(load.status).toBe(200);
    await waitForModelStatus(router.url, a, 'loaded');

    const chat = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: a, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 16 }),
    });
    expect(chat.status).toBe(200);
    const body = (await chat.json()) as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
    expect(body.choices[0]?.message.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);

    // A request for the second model loads it (autoload for this request: the harness starts the
    // router with --no-models-autoload) and, with --models-max 1, unloads the first.
    const second = await fetch(`${router.url}/v1/chat/completions?autoload=true`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: b, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
    });
    expect(second.status).toBe(200);
    await waitForModelStatus(router.url, b, 'loaded');
    await waitForModelStatus(router.url, a, 'unloaded');

    sse.close();
    const statuses = (id: string) =>
      sse.events.filter((e) => e.model === id && (e.event === 'model_status' || e.event === 'status_change')).map((e) => (e.data as { status: string }).status);
    expect(statuses(a)).toEqual(expect.arrayContaining(['loading', 'loaded', 'unloaded']));
    expect(statuses(b)).toEqual(expect.arrayContaining(['loading', 'loaded']));
    expect(statuses(a).indexOf('loaded')).toBeLessThan(statuses(a).lastIndexOf('unloaded'));
  });

  it('shuts down with no process left behind', async () => {
    const pid = router.process.pid as number;
    await router.stop();
    expect(router.process.exitCode ?? router.process.exitSignal).not.toBeNull();
    expect(() => process.kill(pid, 0)).toThrow();
    // The model instances were children of the router: none may survive it.
    const { execFileSync } = await import('node:child_process');
    const orphans = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.includes('llama-server') && line.includes(dir));
    expect(orphans).toEqual([]);
  });
});
