import { describe, expect, it } from 'vitest';
import { model } from '../test-support/fixtures.js';
import { applyModelChanges, applyModelPage, beginModelSync, finishModelSync, noteModelDelta } from './model-merge.js';

const key = (id: string) => ({ nodeId: 'node-1', id });
const ids = (list: { id: string }[]) => list.map((m) => m.id);

describe(applyModelChanges.name, () => {
  it('replaces by key in place, appends new ones, drops removed ones, and keeps the untouched objects', () => {
    const list = [model('a'), model('b'), model('c')];
    const b2 = model('b', { name: 'B' });
    const sut = applyModelChanges(list, [b2, model('d')], [key('c')]);
    expect(ids(sut)).toEqual(['a', 'b', 'd']);
    expect(sut[0]).toBe(list[0]);
    expect(sut[1]).toBe(b2);
  });

  it('returns the same array when nothing changes', () => {
    const list = [model('a')];
    expect(applyModelChanges(list, [], [])).toBe(list);
  });

  it('does not add a model that the same delta removes', () => {
    expect(ids(applyModelChanges([], [model('x')], [key('x')]))).toEqual([]);
  });
});

describe(applyModelPage.name, () => {
  it('keeps what a delta said about a model over an older page, and finishes without models no page held', () => {
    const sync = beginModelSync();
    let list = applyModelPage([model('old')], [model('a')], sync);
    noteModelDelta(sync, [key('b')], [key('c')]);
    list = applyModelChanges(list, [model('b', { name: 'from delta' })], [key('c')]);
    list = applyModelPage(list, [model('b', { name: 'from page' }), model('c')], sync);
    expect(list.find((m) => m.id === 'b')?.name).toBe('from delta');
    expect(ids(list)).toEqual(['old', 'a', 'b']);
    expect(ids(finishModelSync(list, sync))).toEqual(['a', 'b']);
  });

  it('keeps a model a delta added even when no page held it', () => {
    const sync = beginModelSync();
    noteModelDelta(sync, [key('new')], []);
    const list = applyModelPage([model('new')], [model('a')], sync);
    expect(ids(finishModelSync(list, sync))).toEqual(['new', 'a']);
  });
});
