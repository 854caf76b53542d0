import { readFileSync } from 'node:fs';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { escapeLabelValue, parsePrometheusText, PrometheusWriter } from './prometheus-text.js';

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

describe(PrometheusWriter.name, () => {
  it('writes HELP and TYPE once per family, leaves out null samples and empty families', () => {
    const sut = new PrometheusWriter();
    const gauge = sut.family('x_bytes', 'gauge', 'Some bytes');
    gauge(1, { node: 'a' });
    gauge(null, { node: 'b' });
    gauge(2.5, { node: 'c' });
    sut.family('empty', 'gauge', 'Nothing')(null);

    expect(sut.toString()).toBe('# HELP x_bytes Some bytes\n# TYPE x_bytes gauge\nx_bytes{node="a"} 1\nx_bytes{node="c"} 2.5\n');
  });

  it('escapes label values so that a Prometheus parser reads them back', () => {
    const sut = new PrometheusWriter();
    const nasty = 'a "quoted" \\ back\nslash';
    sut.family('m', 'counter', 'Help with \\ and\nnewline')(3, { model: nasty });

    const parsed = parsePrometheusTextFormat(sut.toString());

    expect(parsed).toEqual([{ name: 'm', help: 'Help with \\ and\nnewline', type: 'COUNTER', metrics: [{ value: '3', labels: { model: nasty } }] }]);
  });

  it('writes special values as Prometheus spells them', () => {
    const sut = new PrometheusWriter();
    const g = sut.family('g', 'gauge', 'g');
    g(Number.NaN, { k: '1' });
    g(Number.POSITIVE_INFINITY, { k: '2' });
    g(Number.NEGATIVE_INFINITY, { k: '3' });

    expect(sut.toString()).toContain('g{k="1"} NaN\ng{k="2"} +Inf\ng{k="3"} -Inf\n');
  });
});

describe(escapeLabelValue.name, () => {
  it('escapes backslash, double quote and newline only', () => {
    expect(escapeLabelValue('x\\y"z\nw\t')).toBe('x\\\\y\\"z\\nw\t');
  });
});
