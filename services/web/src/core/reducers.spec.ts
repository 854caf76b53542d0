import { describe, expect, it } from 'vitest';
import { identity, logEntry, logRange, model, sample, snapshot } from '../test-support/fixtures.js';
import { appendSample, applyModelState, applyModelStates, broadcastPatch, mergeLogs, pruneJobs, sameIdentity, snapshotPatch } from './reducers.js';
import type { JobState } from './state.js';
import { initialState } from './state.js';

const ids = (entries: { id: number }[]) => entries.map((e) => e.id);

describe('mergeLogs', () => {
  it.each([
    ['appends newer entries', logRange(1, 3), logRange(4, 5), [1, 2, 3, 4, 5]],
    ['ignores duplicates', logRange(1, 3), logRange(2, 4), [1, 2, 3, 4]],
    ['sorts unordered input', logRange(1, 2), [logEntry(4), logEntry(3)], [1, 2, 3, 4]],
    ['starts over after a gap', logRange(1, 3), logRange(10, 11), [10, 11]],
    ['keeps existing on empty input', logRange(1, 2), [], [1, 2]],
    ['fills an empty list', [], logRange(5, 6), [5, 6]],
  ])('%s', (_name, existing, incoming, expected) => {
    expect(ids(mergeLogs(existing, incoming))).toEqual(expected);
  });

  it('keeps only the newest entries up to the cap', () => {
    expect(ids(mergeLogs(logRange(1, 5), logRange(6, 8), 4))).toEqual([5, 6, 7, 8]);
  });
});

describe('appendSample', () => {
  it('appends newer samples and drops repeats', () => {
    const once = appendSample([], sample(1));
    const twice = appendSample(once, sample(1));
    expect(twice).toBe(once);
    expect(appendSample(once, sample(2)).map((s) => s.ts)).toEqual([1, 2]);
  });

  it('keeps the newest samples up to the cap', () => {
    let recent = appendSample([], sample(1));
    recent = appendSample(recent, sample(2), 2);
    recent = appendSample(recent, sample(3), 2);
    expect(recent.map((s) => s.ts)).toEqual([2, 3]);
  });
});

describe('applyModelState', () => {
  it('replaces the state of the matching model only', () => {
    const models = [model('a'), model('b')];
    const loading = { ...model('a').state, status: 'loading' as const, progress: 0.5 };
    const next = applyModelState(models, 'node-1', loading);
    expect(next[0]?.state.status).toBe('loading');
    expect(next[1]).toBe(models[1]);
  });
});

describe('applyModelStates', () => {
  const models = [model('a'), model('b'), model('c'), model('a', { nodeId: 'node-2' })];
  const state = (id: string, status: 'loaded' | 'loading') => ({ ...model(id).state, status });

  it('puts a batch of states in place in one pass, and keeps the objects of the other rows', () => {
    const next = applyModelStates(models, 'node-1', [state('c', 'loaded'), state('a', 'loading')]);
    expect(next.map((m) => `${m.nodeId}/${m.id}:${m.state.status}`)).toEqual(['node-1/a:loading', 'node-1/b:unloaded', 'node-1/c:loaded', 'node-2/a:unloaded']);
    expect(next[1]).toBe(models[1]);
    expect(next[3]).toBe(models[3]);
    expect(next[0]).not.toBe(models[0]);
  });

  it('returns the same list when no row is of the batch (other node, unknown model, empty batch)', () => {
    expect(applyModelStates(models, 'node-3', [state('a', 'loaded')])).toBe(models);
    expect(applyModelStates(models, 'node-1', [state('zz', 'loaded')])).toBe(models);
    expect(applyModelStates(models, 'node-1', [])).toBe(models);
  });

  it('is what a models:states broadcast does to the state', () => {
    const current = { ...initialState(), models };
    const patch = broadcastPatch(current, { type: 'broadcast', event: 'models:states', data: { nodeId: 'node-1', models: [state('b', 'loaded')] }, seq: 3, timestamp: 0 }, 0);
    expect(patch.models?.map((m) => m.state.status)).toEqual(['unloaded', 'loaded', 'unloaded', 'unloaded']);
    expect(patch.models?.[0]).toBe(models[0]);
  });
});

describe('pruneJobs', () => {
  const job = (state: JobState['state'], receivedAt: number): JobState => ({
    job: { jobId: `${state}-${receivedAt}`, name: 'model.load', subject: null, nodeId: 'n', created: true },
    state,
    progress: null,
    error: null,
    receivedAt,
  });

  it('drops finished jobs after a minute and keeps running ones', () => {
    const jobs = { a: job('completed', 0), b: job('active', 0), c: job('failed', 50_000) };
    expect(Object.keys(pruneJobs(jobs, 70_000))).toEqual(['b', 'c']);
  });
});

describe('identity from snapshots', () => {
  it('takes the identity of the snapshot', () => {
    const patch = snapshotPatch(initialState(), snapshot({ identity: identity('viewer') }), false);
    expect(patch.identity).toEqual(identity('viewer'));
  });

  it('keeps the same object when nothing changed, so views are not told twice', () => {
    const state = { ...initialState(), identity: identity('operator') };
    expect(snapshotPatch(state, snapshot({ identity: identity('operator') }), true).identity).toBe(state.identity);
  });

  it.each([
    ['another role', identity('admin', 'alice'), identity('viewer', 'alice'), false],
    ['another user', identity('admin', 'alice'), identity('admin', 'bob'), false],
    ['sign-in turned off', identity('admin', 'alice'), identity(), false],
    ['the same', identity('viewer', 'alice'), identity('viewer', 'alice'), true],
  ])('sameIdentity: %s → %s', (_name, a, b, expected) => {
    expect(sameIdentity(a, b)).toBe(expected);
  });
});
