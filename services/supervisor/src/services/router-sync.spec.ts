import type { ModelState } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { ModelStates } from './model-states.js';
import { RouterSync } from './router-sync.js';
import { FakeRouter, ManualClock, quietLogger, settle } from './test-support/fakes.js';
import { FIRST_RUN, snapshot } from './test-support/router-session.js';

const RECONCILE_MS = 10_000;

/** A sync over real `ModelStates` and a fake router playing the recorded session. */
function subject() {
  const clock = new ManualClock();
  const router = new FakeRouter();
  router.models = snapshot(0);
  const models = new ModelStates((id, code) => ({ message: `${id} exited with ${code}`, logTail: [] }));
  models.routerStarted();
  const known: string[][] = [];
  const sut = new RouterSync(
    { reconcileIntervalMs: RECONCILE_MS, reconnectDelayMs: 500 },
    { models, output: { knowModels: (_source, ids) => known.push([...ids]) }, clock, logger: quietLogger() },
  );
  const changes: ModelState[] = [];
  models.on('change', (s) => changes.push(s));
  return { sut, clock, router, models, known, changes };
}

describe(RouterSync.name, () => {
  it('reconciles with /models when it starts following, and tells the log parser the ids', async () => {
    const { sut, router, models, known } = subject();
    await sut.follow(router);
    await settle();
    // Once for follow itself, once for the stream opening; neither asks for a reload.
    expect(router.listCalls).toEqual([false, false]);
    expect(models.all().map((m) => [m.id, m.status])).toEqual([
      ['broken', 'unloaded'],
      ['tiny', 'unloaded'],
    ]);
    expect(known.at(-1)).toEqual(['broken', 'tiny']);
  });

  it('reconciles every reconcileIntervalMs, and waits 20 times as long as a slow /models took', async () => {
    const { sut, router, clock } = subject();
    await sut.follow(router);
    await settle();
    const calls = router.listCalls.length;
    await clock.advance(RECONCILE_MS);
    expect(router.listCalls.length).toBe(calls + 1);

    // A list of thousands: /models now takes 2 s, so the next one waits 40 s, not 10 s.
    const list = router.listModels.bind(router);
    router.listModels = async (reload?: boolean) => {
      const models = await list(reload);
      await clock.sleep(2_000);
      return models;
    };
    await clock.advance(RECONCILE_MS + 2_000);
    expect(router.listCalls.length).toBe(calls + 2);
    await clock.advance(RECONCILE_MS * 3);
    expect(router.listCalls.length).toBe(calls + 2);
    await clock.advance(RECONCILE_MS + 2_000);
    expect(router.listCalls.length).toBe(calls + 3);
  });

  it('applies the recorded /models/sse events: progress while loading, then loaded', async () => {
    const { sut, router, models, changes } = subject();
    await sut.follow(router);
    changes.length = 0;
    for (const event of FIRST_RUN.slice(0, 4)) {
      router.stream.send(event);
    }
    expect(changes.map((s) => [s.status, s.stage, s.progress])).toEqual([
      ['loading', null, 0],
      ['loading', 'text_model', 0],
      ['loading', 'text_model', 1],
      ['loaded', null, null],
    ]);
    expect(models.get('tiny')?.status).toBe('loaded');
  });

  it('reopens a dropped stream after the reconnect delay and reconciles, catching what it missed', async () => {
    const { sut, router, clock, models } = subject();
    await sut.follow(router);
    await settle();
    expect(router.streams).toHaveLength(1);
    router.stream.drop();
    // While the stream was down, tiny finished loading: only /models can say so.
    router.models = snapshot(1);
    await clock.advance(499);
    expect(router.streams).toHaveLength(1);
    const before = router.listCalls.length;
    await clock.advance(1);
    expect(router.streams).toHaveLength(2);
    expect(router.listCalls.length).toBe(before + 1);
    expect(models.get('tiny')?.status).toBe('loaded');
  });

  it('reconciles with a reload when the router reloads its list', async () => {
    const { sut, router } = subject();
    await sut.follow(router);
    await settle();
    const before = router.listCalls.length;
    router.stream.send({ model: '', event: 'models_reload' });
    await settle();
    expect(router.listCalls.length).toBe(before + 1);
  });

  it('reconciles every interval, in case an event was missed', async () => {
    const { sut, router, clock } = subject();
    await sut.follow(router);
    await settle();
    const before = router.listCalls.length;
    await clock.advance(RECONCILE_MS * 3);
    expect(router.listCalls.length).toBe(before + 3);
  });

  it('asks the router to reread its directory only while following', async () => {
    const { sut, router } = subject();
    await sut.reload();
    expect(router.listCalls).toEqual([]);
    await sut.follow(router);
    await sut.reload();
    expect(router.listCalls.at(-1)).toBe(true);
  });

  it('after detach, neither reopens the stream nor reconciles on a timer', async () => {
    const { sut, router, clock } = subject();
    await sut.follow(router);
    await settle();
    const stream = router.stream;
    sut.detach();
    expect(sut.following).toBe(false);
    const calls = router.listCalls.length;
    await clock.advance(RECONCILE_MS * 2);
    stream.drop();
    await clock.advance(1_000);
    expect(router.streams).toHaveLength(1);
    expect(router.listCalls.length).toBe(calls);
    expect(clock.pending).toEqual([]);
  });

  it('keeps the states it has when /models fails, and corrects them on the next reconcile', async () => {
    const { sut, router, clock, models } = subject();
    await sut.follow(router);
    await settle();
    const listModels = router.listModels.bind(router);
    router.listModels = () => Promise.reject(new Error('connection refused'));
    await clock.advance(RECONCILE_MS);
    expect(models.get('tiny')?.status).toBe('unloaded');
    router.listModels = listModels;
    router.models = snapshot(1);
    await clock.advance(RECONCILE_MS);
    expect(models.get('tiny')?.status).toBe('loaded');
  });
});
