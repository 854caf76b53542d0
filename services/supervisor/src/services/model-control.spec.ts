import { AppError, ErrorCode, type ModelState } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import type { RouterEvent } from '../repositories/router-client.js';
import { ModelControl } from './model-control.js';
import { ModelStates } from './model-states.js';
import { FakeRouter, ManualClock, settle } from './test-support/fakes.js';
import { CRASH_RUN, FAILED_LOAD, FIRST_RUN, snapshot } from './test-support/router-session.js';

/**
 * Model control over real `ModelStates` and a fake router. The router "answers" a load or an unload
 * by playing the recorded `/models/sse` events of that step into the states, as the sync would.
 */
function subject(options: { running?: boolean } = {}) {
  const clock = new ManualClock();
  const router = new FakeRouter();
  const models = new ModelStates((id, code) => ({ message: `model instance exited with code ${code}: ${id}: failed to load model`, logTail: [] }));
  models.routerStarted();
  models.reconcile(snapshot(0));
  const play = (events: RouterEvent[]): void => events.forEach((e) => models.applyEvent(e));
  const cleared: string[] = [];
  const state = { running: options.running ?? true };
  const sut = new ModelControl(
    { modelsDir: '/models', unloadTimeoutMs: 5_000, loadTimeoutMs: 5_000, loadRetryMs: 1_000, loadRetryDelayMs: 250 },
    {
      models,
      router: {
        runningClient: () => {
          if (!state.running) {
            throw new AppError(ErrorCode.LLAMA_NOT_RUNNING, 'llama-server is stopped');
          }
          return router;
        },
      },
      catalogue: { has: (id) => id === 'tiny' || id === 'broken' },
      output: { clearModel: (id) => cleared.push(id) },
      clock,
    },
  );
  return { sut, clock, router, models, play, cleared, state };
}

const noProgress = (): void => undefined;

describe(ModelControl.name, () => {
  describe('loadModel', () => {
    it('loads through the router, reporting progress, and resolves once loaded', async () => {
      const { sut, router, play, cleared } = subject();
      router.onLoad = async () => void setImmediate(() => play(FIRST_RUN.slice(0, 4)));
      const progress: ModelState[] = [];
      const loaded = await sut.loadModel('tiny', (s) => progress.push(s));
      expect(loaded.status).toBe('loaded');
      expect(router.loads).toEqual(['tiny']);
      expect(progress.map((s) => s.progress)).toEqual([0, 0, 1]);
      expect(cleared).toEqual(['tiny']);
    });

    it('answers a load of a loaded model at once, without a router call', async () => {
      const { sut, router, play, state } = subject();
      play(FIRST_RUN.slice(0, 4));
      state.running = false; // not even asked for the router
      await expect(sut.loadModel('tiny', noProgress)).resolves.toMatchObject({ id: 'tiny', status: 'loaded' });
      expect(router.loads).toEqual([]);
    });

    it('waits for a load already in progress instead of asking again', async () => {
      const { sut, router, play } = subject();
      play(FIRST_RUN.slice(0, 2));
      const loaded = sut.loadModel('tiny', noProgress);
      await settle();
      play(FIRST_RUN.slice(2, 4));
      await expect(loaded).resolves.toMatchObject({ status: 'loaded' });
      expect(router.loads).toEqual([]);
    });

    it('fails with the explanation when the recorded load of the broken model fails', async () => {
      const { sut, router, play } = subject();
      router.onLoad = async () => void setImmediate(() => play(FAILED_LOAD));
      await expect(sut.loadModel('broken', noProgress)).rejects.toMatchObject({
        code: ErrorCode.MODEL_LOAD_FAILED,
        message: expect.stringContaining('exited with code 1') as string,
      });
    });

    it('retries "try again later" while the router evicts, then waits for the load', async () => {
      const { sut, router, clock, play } = subject();
      let refusals = 2;
      router.onLoad = async () => {
        if (refusals-- > 0) {
          throw new Error('model limit reached, try again later');
        }
        setImmediate(() => play(FIRST_RUN.slice(0, 4)));
      };
      const loaded = sut.loadModel('tiny', noProgress);
      await clock.advance(500);
      await expect(loaded).resolves.toMatchObject({ status: 'loaded' });
      expect(router.loads).toEqual(['tiny', 'tiny', 'tiny']);
    });

    it('gives up on "try again later" after the retry window', async () => {
      const { sut, router, clock } = subject();
      router.onLoad = () => Promise.reject(new Error('model limit reached, try again later'));
      const loaded = expect(sut.loadModel('tiny', noProgress)).rejects.toMatchObject({ code: ErrorCode.MODEL_LOAD_FAILED });
      await clock.advance(1_500);
      await loaded;
      // Every 250 ms from 0 through 1250, the first attempt past the 1000 ms window.
      expect(router.loads.length).toBe(6);
    });

    it('fails at once on any other router error', async () => {
      const { sut, router } = subject();
      router.onLoad = () => Promise.reject(new Error('model not found'));
      await expect(sut.loadModel('tiny', noProgress)).rejects.toMatchObject({ code: ErrorCode.MODEL_LOAD_FAILED, message: 'tiny: model not found' });
      expect(router.loads).toEqual(['tiny']);
    });

    it('treats "already loading" as accepted and waits for the outcome', async () => {
      const { sut, router, play } = subject();
      router.onLoad = async () => {
        setImmediate(() => play(FIRST_RUN.slice(0, 4)));
        throw new Error('model is already loading');
      };
      await expect(sut.loadModel('tiny', noProgress)).resolves.toMatchObject({ status: 'loaded' });
    });

    it('refuses a load while llama-server is not running', async () => {
      const { sut, router } = subject({ running: false });
      await expect(sut.loadModel('tiny', noProgress)).rejects.toMatchObject({ code: ErrorCode.LLAMA_NOT_RUNNING });
      expect(router.loads).toEqual([]);
    });
  });

  describe('unloadModel', () => {
    it('ends an unload it asked for unloaded, even when the instance exits with code 1', async () => {
      const { sut, router, play } = subject();
      play(CRASH_RUN.slice(0, 4));
      // The recorded exit after the load: "unloaded" with exit code 1 (an error when nobody asked).
      router.onUnload = async () => void setImmediate(() => play(CRASH_RUN.slice(4)));
      const state = await sut.unloadModel('tiny');
      expect(state).toMatchObject({ status: 'unloaded', error: null });
      expect(router.unloads).toEqual(['tiny']);
    });

    it('answers an unload of an unloaded model at once, without a router call, even while stopped', async () => {
      const { sut, router, state } = subject();
      await expect(sut.unloadModel('tiny')).resolves.toMatchObject({ id: 'tiny', status: 'unloaded' });
      state.running = false;
      await expect(sut.unloadModel('tiny')).resolves.toMatchObject({ id: 'tiny', status: 'unloaded' });
      expect(router.unloads).toEqual([]);
    });

    it('fails with MODEL_UNLOAD_FAILED when the router refuses', async () => {
      const { sut, router, play } = subject();
      play(FIRST_RUN.slice(0, 4));
      router.onUnload = () => Promise.reject(new Error('model is not running'));
      await expect(sut.unloadModel('tiny')).rejects.toMatchObject({ code: ErrorCode.MODEL_UNLOAD_FAILED });
    });
  });

  it.each([
    ['an unknown model', 'nope', ErrorCode.MODEL_NOT_FOUND, 'no model "nope" in /models'],
    ['an invalid catalogue entry', 'broken', ErrorCode.MODEL_INVALID, 'broken: truncated file'],
  ])('refuses %s before asking the router', async (_what, modelId, code, message) => {
    const { sut, router, models } = subject();
    models.setInvalid(new Map([['broken', 'truncated file']]));
    await expect(sut.loadModel(modelId, noProgress)).rejects.toMatchObject({ code, message });
    await expect(sut.unloadModel(modelId)).rejects.toMatchObject({ code, message });
    expect([...router.loads, ...router.unloads]).toEqual([]);
  });
});
