import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError, DEFAULT_DASHBOARD_SETTINGS, DEFAULT_SERVER_CONFIG, ErrorCode, type PresetDocument } from '@llamaproxy/shared';
import { openDatabase, type Db } from '../db/database.js';
import { JobRepository } from '../repositories/job.repository.js';
import { ModelRepository } from '../repositories/model.repository.js';
import { StateRepository } from '../repositories/state.repository.js';
import { DashboardState, Documents } from './dashboard-state.js';

let dir: string;
let db: Db;
let sut: DashboardState;
let state: StateRepository;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-docs-'));
  db = openDatabase(join(dir, 'test.db'));
  state = new StateRepository(db);
  sut = new DashboardState(state, new ModelRepository(db), DEFAULT_SERVER_CONFIG);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The error `fn` throws (fails the test when it does not throw). */
function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  return expect.fail('expected a throw');
}

describe(DashboardState.name, () => {
  it('refuses a change of a stale revision with CONFLICT and the current document, and keeps the newer one', () => {
    expect(sut.serverConfigDoc().revision).toBe(0);
    const first = sut.changeServerConfig(0, (c) => ({ ...c, ctxSize: 1024 }));
    expect(first.next).toEqual({ value: { ...DEFAULT_SERVER_CONFIG, ctxSize: 1024 }, revision: 1 });
    // A second editor that also loaded revision 0.
    const err = thrown(() => sut.changeServerConfig(0, (c) => ({ ...c, parallel: 2 })));
    expect(err.toInfo()).toEqual({
      code: ErrorCode.CONFLICT,
      message: expect.stringContaining('revision 1'),
      current: { document: 'config', revision: 1, value: { ...DEFAULT_SERVER_CONFIG, ctxSize: 1024 } },
    });
    expect(sut.serverConfigDoc()).toEqual(first.next);
    // Reloaded: both edits are kept.
    expect(sut.changeServerConfig(1, (c) => ({ ...c, parallel: 2 })).next.value).toMatchObject({ ctxSize: 1024, parallel: 2 });
  });

  it('stores nothing and keeps the revision when the change itself throws', () => {
    const err = thrown(() =>
      sut.changeSettings(0, () => {
        throw new AppError(ErrorCode.CONFIG_INVALID, 'bad');
      }),
    );
    expect(err.code).toBe(ErrorCode.CONFIG_INVALID);
    expect(sut.settingsDoc()).toEqual({ value: DEFAULT_DASHBOARD_SETTINGS, revision: 0 });
  });

  it('keeps quick edits of two models, each under its own revision, and refuses a stale one', () => {
    const a = sut.changeModelSettings('a', 0, { 'ctx-size': '256' });
    const b = sut.changeModelSettings('b', 0, { 'ctx-size': '512' });
    expect([a.settingsRevision, b.settingsRevision]).toEqual([1, 1]);
    expect(sut.preset().sections).toEqual([
      { name: 'a', values: { 'ctx-size': '256' } },
      { name: 'b', values: { 'ctx-size': '512' } },
    ]);
    expect(sut.presetDoc().revision).toBe(2);
    const err = thrown(() => sut.changeModelSettings('a', 0, { 'ctx-size': '1' }));
    expect(err.current).toEqual({ document: 'model-settings:a', revision: 1, value: { 'ctx-size': '256' } });
  });

  it('gives a new revision to each model section a whole-preset change touched, and to no other', () => {
    sut.changeModelSettings('a', 0, { x: '1' });
    sut.changeModelSettings('b', 0, { x: '1' });
    const next: PresetDocument = { global: {}, sections: [{ name: 'a', values: { x: '2' } }, { name: 'b', values: { x: '1' } }] };
    sut.changePreset(2, () => next);
    expect(state.revision(Documents.modelSettings('a'))).toBe(2);
    expect(state.revision(Documents.modelSettings('b'))).toBe(1);
  });

  it('undoes a change only while nothing newer came (a failed or unqueued apply)', () => {
    const change = sut.changeServerConfig(0, (c) => ({ ...c, ctxSize: 1024 }));
    expect(sut.replaceServerConfigIf(change.next.revision, change.previous.value)).toEqual({ value: DEFAULT_SERVER_CONFIG, revision: 2 });
    sut.changeServerConfig(2, (c) => ({ ...c, ctxSize: 2048 }));
    expect(sut.replaceServerConfigIf(2, DEFAULT_SERVER_CONFIG)).toBeNull();
    expect(sut.serverConfig().ctxSize).toBe(2048);
  });

  it('records what was applied only forward', () => {
    sut.seedApplied();
    expect(sut.appliedServerConfig()).toEqual({ value: DEFAULT_SERVER_CONFIG, revision: 0 });
    sut.markApplied(Documents.config, { value: { ...DEFAULT_SERVER_CONFIG, ctxSize: 2 }, revision: 3 });
    sut.markApplied(Documents.config, { value: { ...DEFAULT_SERVER_CONFIG, ctxSize: 1 }, revision: 2 });
    expect(sut.appliedServerConfig()).toEqual({ value: { ...DEFAULT_SERVER_CONFIG, ctxSize: 2 }, revision: 3 });
  });
});

describe(JobRepository.name, () => {
  it('stores an outcome once, whoever reports it, and only for a job it recorded', () => {
    const jobs = new JobRepository(db);
    jobs.insert({ jobId: 'model.load-a.1', nodeId: 'n', name: 'model.load', subject: 'a', payload: { modelId: 'a' }, deadlineAt: 2000 }, 1000);
    expect(jobs.finish('model.load-a.1', { state: 'failed', error: { code: 'MODEL_LOAD_FAILED', message: 'oom' } }, 1500)).toBe(true);
    // A second replica (or a reconcile) sees the same end: nothing more happens.
    expect(jobs.finish('model.load-a.1', { state: 'completed', result: {} }, 1600)).toBe(false);
    expect(jobs.finish('never-recorded', { state: 'completed', result: {} })).toBe(false);
    expect(jobs.get('model.load-a.1')).toMatchObject({ state: 'failed', error: { code: 'MODEL_LOAD_FAILED', message: 'oom' }, finishedAt: 1500 });
    expect(jobs.queued('n')).toEqual([]);
    expect(jobs.prune(100, 1550)).toBe(0);
    expect(jobs.prune(100, 1700)).toBe(1);
  });
});

describe(StateRepository.name, () => {
  it('marks a node offline once when it goes quiet, and online again when heard', () => {
    expect(state.nodeHeard('n', 1000, 500, 1000)).toBe(true);
    expect(state.nodeHeard('n', 1200, 500, 1200)).toBe(false);
    expect(state.markNodesOffline(1100)).toEqual([]);
    expect(state.markNodesOffline(1300)).toEqual(['n']);
    expect(state.markNodesOffline(1300)).toEqual([]);
    expect(state.nodes()).toEqual([{ nodeId: 'n', lastHeardAt: 1200, online: false, stale: true }]);
    // A late-read old report does not bring it back; a fresh one does.
    expect(state.nodeHeard('n', 1100, 500, 5000)).toBe(false);
    expect(state.nodeHeard('n', 5000, 500, 5000)).toBe(true);
  });
});
