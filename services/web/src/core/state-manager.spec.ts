import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FakeTransport } from '../test-support/fake-transport.js';
import { logEntry, logRange, model, sample, snapshot } from '../test-support/fixtures.js';
import { StateManager } from './state-manager.js';
import { RequestError } from './transport.js';

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe(StateManager.name, () => {
  let transport: FakeTransport;
  let sut: StateManager;

  beforeEach(() => {
    transport = new FakeTransport();
    sut = new StateManager(transport, { snapshotFallbackMs: 60_000 });
    sut.start();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  describe('subscriptions', () => {
    it('notifies only the subscribers of the keys that changed', () => {
      const onModels = vi.fn();
      const onMetrics = vi.fn();
      sut.subscribe('models', onModels);
      sut.subscribe('metrics', onMetrics);

      transport.push('models:changed', { upserted: [model('a')], removed: [] }, 1);

      expect(onModels).toHaveBeenCalledTimes(1);
      expect(onModels.mock.calls[0]?.[0]).toEqual([model('a')]);
      expect(onMetrics).not.toHaveBeenCalled();
    });

    it('passes the previous value and stops after unsubscribe', () => {
      const listener = vi.fn();
      const unsubscribe = sut.subscribe('models', listener);
      transport.push('models:changed', { upserted: [model('a')], removed: [] }, 1);
      transport.push('models:changed', { upserted: [model('b')], removed: [] }, 2);
      unsubscribe();
      transport.push('models:changed', { upserted: [], removed: [{ nodeId: 'node-1', id: 'a' }] }, 3);

      expect(listener).toHaveBeenCalledTimes(2);
      expect(listener.mock.calls[1]).toEqual([[model('a'), model('b')], [model('a')]]);
    });

    it('calls an immediate subscriber with the current value', () => {
      const listener = vi.fn();
      sut.subscribe('ready', listener, true);
      expect(listener).toHaveBeenCalledWith(false, false);
    });

    it('keeps notifying the others when one listener throws', () => {
      const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
      const after = vi.fn();
      sut.subscribe('models', () => {
        throw new Error('broken view');
      });
      sut.subscribe('models', after);
      transport.push('models:changed', { upserted: [model('a')], removed: [] }, 1);
      expect(after).toHaveBeenCalledTimes(1);
      spy.mockRestore();
    });
  });

  describe('requests', () => {
    it('resolves with the data of a successful answer', async () => {
      transport.goOnline();
      const reply = sut.request('models:list', {});
      transport.answer('models:list', { models: [model('a')], total: 1, nextCursor: null });
      await expect(reply).resolves.toEqual({ models: [model('a')], total: 1, nextCursor: null });
    });

    it('rejects with the server error code and message', async () => {
      transport.goOnline();
      const reply = sut.request('models:load', { modelId: 'a' });
      transport.fail('models:load', { code: 'MODEL_NOT_FOUND', message: 'no such model' });
      await expect(reply).rejects.toEqual(new RequestError({ code: 'MODEL_NOT_FOUND', message: 'no such model' }));
    });

    it('queues requests while disconnected and sends them in order on reconnect', async () => {
      const first = sut.request('models:load', { modelId: 'a' });
      const second = sut.request('llama:restart', {});
      expect(transport.sent).toEqual([]);
      expect(sut.get('connection').queued).toBe(2);

      transport.goOnline();

      expect(transport.sent.map((s) => s.event)).toEqual(['models:load', 'llama:restart']);
      expect(sut.get('connection').queued).toBe(0);
      const job = { jobId: 'j', name: 'model.load', subject: 'a', nodeId: 'n', created: true } as const;
      transport.answer('models:load', { job });
      transport.answer('llama:restart', { job: { ...job, name: 'server.restart' } });
      await expect(first).resolves.toEqual({ job });
      await expect(second).resolves.toMatchObject({ job: { name: 'server.restart' } });
    });

    it('fails a queued request with TIMEOUT when the connection stays down', async () => {
      vi.useFakeTimers();
      const queued = new StateManager(transport, { queueTimeoutMs: 5000 });
      queued.start();
      const reply = queued.request('models:list', {});
      const outcome = expect(reply).rejects.toMatchObject({ code: 'TIMEOUT' });

      vi.advanceTimersByTime(5000);

      await outcome;
      expect(queued.get('connection').queued).toBe(0);
      transport.goOnline();
      expect(transport.sent).toEqual([]);
    });
  });

  describe('snapshots', () => {
    it('applies the snapshot pushed on connect', () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ metrics: sample(5) }), 10);

      expect(sut.get('ready')).toBe(true);
      expect(sut.get('models').map((m) => m.id)).toEqual(['alpha']);
      expect(sut.get('logs').map((l) => l.id)).toEqual([1, 2, 3]);
      expect(sut.get('metrics')?.ts).toBe(5);
      expect(sut.get('recentMetrics')).toHaveLength(1);
      expect(sut.getCursors()).toEqual({ logId: 3, eventSeq: 10 });
    });

    it('advances the cursors with every broadcast', () => {
      transport.goOnline();
      transport.push('snapshot', snapshot(), 10);
      transport.push('logs:entry', { entries: [logEntry(4), logEntry(5)] }, 11);
      transport.push('models:changed', { upserted: [], removed: [] }, 12);

      expect(sut.getCursors()).toEqual({ logId: 5, eventSeq: 12 });
      expect(sut.get('logs').map((l) => l.id)).toEqual([1, 2, 3, 4, 5]);
    });

    it('asks for a snapshot when none is pushed after connecting', () => {
      vi.useFakeTimers();
      const other = new FakeTransport();
      const manager = new StateManager(other, { snapshotFallbackMs: 3000 });
      manager.start();
      other.goOnline();
      vi.advanceTimersByTime(3000);
      expect(other.sent).toEqual([{ event: 'snapshot:get', payload: {} }]);
    });
  });

  describe('resume after reconnect', () => {
    beforeEach(() => {
      transport.goOnline();
      transport.push('snapshot', snapshot(), 10);
      transport.push('logs:entry', { entries: [logEntry(4)] }, 11);
      transport.goOffline();
    });

    it('reports the connection going down', () => {
      expect(sut.get('connection').status).toBe('offline');
    });

    it('asks for what changed since its cursors', () => {
      transport.goOnline();
      expect(transport.sent).toEqual([{ event: 'snapshot:get', payload: { cursors: { logId: 4, eventSeq: 11 } } }]);
    });

    it('merges the missed log entries after the ones it has', async () => {
      transport.goOnline();
      transport.answer('snapshot:get', snapshot({ logs: logRange(5, 7), cursors: { logId: 7, eventSeq: 15 } }));
      await settle();

      expect(sut.get('logs').map((l) => l.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(sut.getCursors()).toEqual({ logId: 7, eventSeq: 15 });
    });

    it('starts over with the newest lines when the server says the gap was too large', async () => {
      transport.goOnline();
      transport.answer('snapshot:get', snapshot({ logs: logRange(5, 6), logsTruncated: true, cursors: { logId: 9000, eventSeq: 99 } }));
      await settle();
      expect(transport.pendingEvents()).toEqual(['logs:query']);

      transport.answer('logs:query', { entries: logRange(8998, 9000).reverse(), hasMore: true });
      await settle();

      expect(sut.get('logs').map((l) => l.id)).toEqual([8998, 8999, 9000]);
      expect(sut.getCursors().logId).toBe(9000);
    });

    it('holds broadcasts during the resume and replays only those newer than the snapshot', async () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('from-connect')] }), 14);
      transport.push('models:changed', { upserted: [model('old')], removed: [] }, 15);
      transport.push('models:changed', { upserted: [model('new')], removed: [] }, 17);
      transport.push('metrics:update', { sample: sample(50) }, 17);
      expect(sut.get('models').map((m) => m.id)).toEqual(['alpha']);

      transport.answer('snapshot:get', snapshot({ models: [model('resumed')], cursors: { logId: 4, eventSeq: 16 } }));
      await settle();

      expect(sut.get('models').map((m) => m.id)).toEqual(['resumed', 'new']);
      expect(sut.get('metrics')?.ts).toBe(50);
      expect(sut.getCursors().eventSeq).toBe(17);
    });

    it('falls back to the pushed snapshot when the resume request fails', async () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('from-connect')] }), 20);
      transport.fail('snapshot:get', { code: 'INTERNAL', message: 'boom' });
      await settle();

      expect(sut.get('models').map((m) => m.id)).toEqual(['from-connect']);
    });

    it('sends queued requests after asking for the snapshot', () => {
      void sut.request('models:rescan', {}).catch(() => {});
      transport.goOnline();
      expect(transport.sent.map((s) => s.event)).toEqual(['snapshot:get', 'models:rescan']);
    });
  });
  describe('model list in pages', () => {
    const loaded = (id: string) => model(id, { state: { ...model(id).state, status: 'loaded' } });

    it('reads the rest of the list after the first page, and a delta that came meanwhile wins over an older page', async () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('a')], modelsTotal: 4, modelsNext: 'c1' }), 10);
      expect(sut.get('models').map((m) => m.id)).toEqual(['a']);
      expect(transport.sent.at(-1)).toEqual({ event: 'models:list', payload: { cursor: 'c1', limit: 1000 } });

      // While the second page is on its way: c loads, d is removed.
      transport.push('models:changed', { upserted: [loaded('c')], removed: [{ nodeId: 'node-1', id: 'd' }] }, 11);
      transport.answer('models:list', { models: [model('b'), model('c'), model('d')], total: 4, nextCursor: 'c2' });
      await settle();
      expect(sut.get('models').map((m) => `${m.id}:${m.state.status}`)).toEqual(['a:unloaded', 'c:loaded', 'b:unloaded']);

      transport.answer('models:list', { models: [model('e')], total: 4, nextCursor: null });
      await settle();
      expect(sut.get('models').map((m) => m.id)).toEqual(['a', 'c', 'b', 'e']);
    });

    it('drops, after a resume, the models that no page holds any more, keeping the objects of the others', async () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('a'), model('b'), model('gone')], modelsTotal: 3, modelsNext: null }), 10);
      const before = sut.get('models');
      transport.goOffline();
      transport.goOnline();
      transport.answer('snapshot:get', snapshot({ models: [model('a')], modelsTotal: 2, modelsNext: 'c1', cursors: { logId: 3, eventSeq: 12 } }));
      await settle();
      // Until the last page, the old rows stay (no flicker).
      expect(sut.get('models').map((m) => m.id)).toEqual(['a', 'b', 'gone']);
      expect(sut.get('models')[1]).toBe(before[1]);
      transport.answer('models:list', { models: [model('b')], total: 2, nextCursor: null });
      await settle();
      expect(sut.get('models').map((m) => m.id)).toEqual(['a', 'b']);
    });

    it('applies a state change to one model and keeps the other objects', () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('a'), model('b')], modelsTotal: 2 }), 10);
      const [a, b] = sut.get('models');
      transport.push('models:status', { nodeId: 'node-1', model: { ...model('b').state, status: 'loading', progress: 0.5 } }, 11);
      const [a2, b2] = sut.get('models');
      expect(a2).toBe(a);
      expect(b2).not.toBe(b);
      expect(b2?.state.status).toBe('loading');
    });

    it('applies a batch of states (models:states) at once, telling the models subscribers once, and keeps the untouched objects', () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('a'), model('b'), model('c')], modelsTotal: 3 }), 10);
      const [a, b, c] = sut.get('models');
      const onModels = vi.fn();
      sut.subscribe('models', onModels);
      transport.push('models:states', { nodeId: 'node-1', models: [{ ...model('a').state, status: 'loaded' }, { ...model('c').state, status: 'loading', progress: 0.2 }] }, 11);
      const [a2, b2, c2] = sut.get('models');
      expect(onModels).toHaveBeenCalledTimes(1);
      expect(b2).toBe(b);
      expect([a2, c2]).not.toContain(a);
      expect(c2).not.toBe(c);
      expect([a2?.state.status, c2?.state.status]).toEqual(['loaded', 'loading']);
      expect(sut.getCursors().eventSeq).toBe(11);
    });

    it('keeps a batch of states that came while the pages were read over an older page', async () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('a'), model('b')], modelsTotal: 3, modelsNext: 'c1' }), 10);
      transport.push('models:states', { nodeId: 'node-1', models: [{ ...model('a').state, status: 'loaded' }, { ...model('b').state, status: 'loaded' }] }, 11);
      // The page was read before the batch: it still says unloaded.
      transport.answer('models:list', { models: [model('b'), model('c')], total: 3, nextCursor: null });
      await settle();
      expect(sut.get('models').map((m) => `${m.id}:${m.state.status}`)).toEqual(['a:loaded', 'b:loaded', 'c:unloaded']);
    });

    it('replays, after a resume, only the batches of states newer than the snapshot', async () => {
      transport.goOnline();
      transport.push('snapshot', snapshot({ models: [model('a'), model('b')], modelsTotal: 2 }), 10);
      transport.goOffline();
      transport.goOnline();
      transport.push('models:states', { nodeId: 'node-1', models: [{ ...model('a').state, status: 'loading' }] }, 12);
      transport.push('models:states', { nodeId: 'node-1', models: [{ ...model('b').state, status: 'loaded' }] }, 14);
      // The snapshot was read after seq 12 (a is loaded by then) and before 14.
      transport.answer('snapshot:get', snapshot({ models: [model('a', { state: { ...model('a').state, status: 'loaded' } }), model('b')], modelsTotal: 2, cursors: { logId: 0, eventSeq: 13 } }));
      await settle();
      expect(sut.get('models').map((m) => `${m.id}:${m.state.status}`)).toEqual(['a:loaded', 'b:loaded']);
      expect(sut.getCursors().eventSeq).toBe(14);
    });
  });
});
