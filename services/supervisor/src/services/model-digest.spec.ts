import type { ModelState } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { digestOf, ModelDigest } from './model-digest.js';

function state(id: string, patch: Partial<ModelState> = {}): ModelState {
  return { id, status: 'unloaded', progress: null, stage: null, args: ['--ctx-size', '512'], error: null, updatedAt: 1, ...patch };
}

describe(ModelDigest.name, () => {
  it('is the same for the same states in any order, and different when one state differs', () => {
    const sut = new ModelDigest();
    sut.set(state('a'));
    sut.set(state('b', { status: 'loaded' }));

    expect(sut.value).toBe(digestOf([state('b', { status: 'loaded' }), state('a')]));
    expect(sut.value).not.toBe(digestOf([state('b', { status: 'loading', progress: 0.5 }), state('a')]));
    expect(sut.value).toMatch(/^2-[0-9a-f]{8}-[0-9a-f]{8}$/);
  });

  it('follows changes and removals in O(1) to the digest of the resulting set', () => {
    const sut = new ModelDigest();
    const empty = sut.value;
    sut.set(state('a'));
    sut.set(state('a', { status: 'loading', progress: 0.1 }));
    sut.set(state('a', { status: 'loaded' }));
    sut.set(state('b'));
    sut.remove('b');
    sut.remove('never-there');

    expect(sut.value).toBe(digestOf([state('a', { status: 'loaded' })]));
    expect(sut.size).toBe(1);
    sut.remove('a');
    expect(sut.value).toBe(empty);
  });

  it('ignores when a state was taken (updatedAt), not what it says', () => {
    expect(digestOf([state('a', { updatedAt: 1 })])).toBe(digestOf([state('a', { updatedAt: 2 })]));
    expect(digestOf([state('a', { note: 'x' })])).not.toBe(digestOf([state('a')]));
    expect(digestOf([state('a', { error: { message: 'boom', exitCode: 1, logTail: [] }, status: 'error' })])).not.toBe(
      digestOf([state('a', { error: { message: 'bang', exitCode: 1, logTail: [] }, status: 'error' })]),
    );
  });
});
