import type { ModelView } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { model } from '../test-support/fixtures.js';
import { ModelIndex } from './model-index.js';
import { queryModels, type ModelQuery } from './model-list.js';

const base: ModelQuery = { text: '', filter: 'all', sort: 'name', direction: 'asc' };
const withStatus = (m: ModelView, status: ModelView['state']['status']): ModelView => ({ ...m, state: { ...m.state, status } });
const farm = (n: number) => Array.from({ length: n }, (_, i) => model(`farm-${String(n - i).padStart(5, '0')}`, { sizeBytes: (i * 7919) % 1000, quantization: i % 3 === 0 ? 'Q8_0' : 'Q4_K_M' }));

describe(ModelIndex.name, () => {
  it.each<Partial<ModelQuery>>([{}, { direction: 'desc' }, { sort: 'size' }, { sort: 'status' }, { text: 'q8' }, { text: 'FARM-0001' }, { filter: 'loaded' }, { text: 'nothing' }])(
    'answers %j as queryModels does',
    (q) => {
      const models = farm(300).map((m, i) => (i % 10 === 0 ? withStatus(m, 'loaded') : m));
      const sut = new ModelIndex();
      sut.setModels(models);
      expect(sut.query({ ...base, ...q }).map((m) => m.id)).toEqual(queryModels(models, { ...base, ...q }).map((m) => m.id));
    },
  );

  it('does not sort again when a state change cannot move a model (sorted by name), and shows the new state', () => {
    const models = farm(100);
    const sut = new ModelIndex();
    sut.setModels(models);
    sut.query(base);
    const next = models.map((m, i) => (i === 5 ? withStatus(m, 'loaded') : m));
    sut.setModels(next);
    const shown = sut.query(base);
    expect(sut.sorts).toBe(1);
    expect(shown.find((m) => m.id === models[5]?.id)?.state.status).toBe('loaded');
    expect(sut.query({ ...base, filter: 'loaded' }).map((m) => m.id)).toEqual([models[5]?.id]);
  });

  it('sorts again when the change moves a model in the order (sorted by status), or a model comes or goes', () => {
    const models = farm(50);
    const sut = new ModelIndex();
    sut.setModels(models);
    sut.query({ ...base, sort: 'status' });
    sut.setModels(models.map((m, i) => (i === 40 ? withStatus(m, 'loaded') : m)));
    expect(sut.query({ ...base, sort: 'status' })[0]?.id).toBe(models[40]?.id);
    expect(sut.sorts).toBe(2);
    sut.setModels([...models, model('zzz')]);
    expect(sut.query({ ...base, sort: 'status' }).at(-1)?.id).toBe('zzz');
    expect(sut.sorts).toBe(3);
  });
});
