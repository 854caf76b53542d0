import { describe, expect, it } from 'vitest';
import { logEntry } from '../test-support/fixtures.js';
import { NO_FILTER, filterFromSearch, matchesLog, toQuery } from './log-filter.js';

const warn = { ...logEntry(1, 'Disk Almost Full'), level: 'warn' as const, source: 'supervisor' as const, modelId: 'qwen', nodeId: 'n' };

describe('log filter', () => {
  it.each([
    [{}, true],
    [{ level: 'error' }, false],
    [{ level: 'warn' }, true],
    [{ level: 'debug' }, true],
    [{ source: 'gateway' }, false],
    [{ source: 'supervisor' }, true],
    [{ modelId: 'other' }, false],
    [{ nodeId: 'other-node' }, false],
    [{ nodeId: 'n' }, true],
    [{ text: 'almost' }, true],
    [{ text: 'nothing' }, false],
  ] as const)('%j matches: %s', (change, expected) => {
    expect(matchesLog(warn, { ...NO_FILTER, ...change })).toBe(expected);
  });

  it('turns a filter into a query with only the set fields', () => {
    expect(toQuery({ ...NO_FILTER, level: 'warn', text: ' disk ' }, 200, 50)).toEqual({ limit: 200, level: 'warn', text: 'disk', beforeId: 50 });
    expect(toQuery(NO_FILTER, 10)).toEqual({ limit: 10 });
    expect(toQuery({ ...NO_FILTER, nodeId: 'gpu-1' }, 10)).toEqual({ limit: 10, nodeId: 'gpu-1' });
  });

  it('reads a filter from the location, ignoring unknown values', () => {
    expect(filterFromSearch('?level=warn&source=nope&model=qwen')).toEqual({ level: 'warn', source: null, modelId: 'qwen', nodeId: null, text: '' });
    expect(filterFromSearch('?node=gpu-1&q=disk')).toMatchObject({ nodeId: 'gpu-1', text: 'disk' });
    // Without a level, info and worse (our own polls' debug lines would fill the page); all on request.
    expect(filterFromSearch('').level).toBe('info');
    expect(filterFromSearch('?level=all').level).toBeNull();
    expect(filterFromSearch('?level=debug').level).toBe('debug');
  });
});
