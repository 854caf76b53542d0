import { describe, expect, it } from 'vitest';
import { model } from '../test-support/fixtures.js';
import { queryModels, type ModelQuery } from './model-list.js';

const loaded = (id: string, sizeBytes: number) => model(id, { sizeBytes, state: { ...model(id).state, status: 'loaded' } });
const models = [loaded('qwen-7b', 5e9), model('llama-3b', { sizeBytes: 2e9, quantization: 'Q8_0' }), model('broken', { valid: false, sizeBytes: 10 })];
const base: ModelQuery = { text: '', filter: 'all', sort: 'name', direction: 'asc' };
const ids = (q: Partial<ModelQuery>) => queryModels(models, { ...base, ...q }).map((m) => m.id);

describe('queryModels', () => {
  it.each([
    [{}, ['broken', 'llama-3b', 'qwen-7b']],
    [{ direction: 'desc' }, ['qwen-7b', 'llama-3b', 'broken']],
    [{ sort: 'size', direction: 'desc' }, ['qwen-7b', 'llama-3b', 'broken']],
    [{ sort: 'status' }, ['qwen-7b', 'broken', 'llama-3b']],
    [{ filter: 'loaded' }, ['qwen-7b']],
    [{ filter: 'invalid' }, ['broken']],
    [{ text: 'Q8' }, ['llama-3b']],
    [{ text: 'QWEN' }, ['qwen-7b']],
  ] as [Partial<ModelQuery>, string[]][])('%j', (q, expected) => {
    expect(ids(q)).toEqual(expected);
  });
});
