import { describe, expect, it } from 'vitest';
import type { SkippedFile } from '@llamaproxy/shared';
import { companionFacts, modelFacts, shardsText, skippedLine, skippedSummary } from './model-facts.js';

describe(shardsText.name, () => {
  it.each([
    ['one file', undefined, null],
    ['a complete set', { count: 3, present: [1, 2, 3] }, '3 shards'],
    ['a set missing its last shard', { count: 3, present: [1, 2] }, '2 of 3 shards'],
    ['duplicates and numbers outside the set do not count', { count: 3, present: [1, 1, 4] }, '1 of 3 shards'],
    ['a "set" of one', { count: 1, present: [1] }, null],
  ])('%s', (_what, split, expected) => {
    expect(shardsText(split)).toBe(expected);
  });
});

describe(companionFacts.name, () => {
  it('names the projector and the drafter the router passes, and nothing for a plain model', () => {
    expect(companionFacts({ mmproj: 'v/mmproj-v.gguf', draft: 'v/mtp-v.gguf' })).toEqual(['projector v/mmproj-v.gguf', 'drafter v/mtp-v.gguf']);
    expect(companionFacts({ mmproj: null, draft: 'v/mtp-v.gguf' })).toEqual(['drafter v/mtp-v.gguf']);
    // Rows stored before the gateway kept drafters, and older supervisors, have none.
    expect(companionFacts({ mmproj: null })).toEqual([]);
    expect(companionFacts({ mmproj: null, draft: null })).toEqual([]);
  });
});

describe(modelFacts.name, () => {
  it('lists the split set first, then the companions', () => {
    expect(modelFacts({ mmproj: 'p.gguf', draft: null, split: { count: 2, present: [1, 2] } })).toEqual(['2 shards', 'projector p.gguf']);
  });
});

describe(skippedSummary.name, () => {
  const entry = (nodeId: string, path: string): SkippedFile => ({ nodeId, path, reason: 'dangling symlink' });

  it.each([
    [[], null],
    [[entry('n1', 'a.gguf')], '1 file in the models directory skipped by the scan'],
    [[entry('n1', 'a.gguf'), entry('n1', 'b.gguf')], '2 files in the models directory skipped by the scan'],
    [[entry('n2', 'a.gguf'), entry('n1', 'b.gguf')], '2 files in the models directories of n1, n2 skipped by the scan'],
  ])('summarises %j', (skipped, expected) => {
    expect(skippedSummary(skipped)).toBe(expected);
  });

  it('names the node in each line only when several nodes report files', () => {
    expect(skippedLine(entry('n1', 'links/x.gguf'), false)).toBe('links/x.gguf: dangling symlink');
    expect(skippedLine(entry('n1', 'links/x.gguf'), true)).toBe('n1: links/x.gguf: dangling symlink');
  });
});
