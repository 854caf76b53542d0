import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from './prometheus-text.js';

// A real llama-server's /metrics (router mode, one completion of a tiny model).
const LLAMA_METRICS = readFileSync(new URL('./__fixtures__/llama-metrics.txt', import.meta.url), 'utf8');

describe(parsePrometheusText.name, () => {
  const sut = parsePrometheusText;

  it("reads llama-server's figures with their type and help", () => {
    const families = sut(LLAMA_METRICS);

    expect(families.get('llamacpp:prompt_tokens_total')).toEqual({
      value: 27,
      type: 'counter',
      help: 'Number of prompt tokens processed, excluding cached tokens',
    });
    expect(families.get('llamacpp:tokens_predicted_total')?.value).toBe(8);
    expect(families.get('llamacpp:predicted_tokens_seconds')).toMatchObject({ value: 6081.67, type: 'gauge' });
    expect(families.get('llamacpp:requests_processing')?.value).toBe(0);
    expect(families.size).toBe(15);
  });

  it('skips labelled samples and reads special values and timestamps', () => {
    const families = sut('a{x="1"} 5\nb 1.5e3 1700000000000\nc +Inf\nd NaN\ne not-a-number\n');

    expect([...families.keys()]).toEqual(['b', 'c', 'd']);
    expect(families.get('b')?.value).toBe(1500);
    expect(families.get('c')?.value).toBe(Number.POSITIVE_INFINITY);
    expect(families.get('d')?.type).toBe('untyped');
  });
});
