import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import { PrometheusWriter } from './prometheus-writer.js';

describe(PrometheusWriter.name, () => {
  it('writes HELP and TYPE once per family, leaves out null samples and empty families', async () => {
    const sut = new PrometheusWriter();
    const gauge = sut.family('x_bytes', 'gauge', 'Some bytes');
    gauge(1, { node: 'a' });
    gauge(null, { node: 'b' });
    gauge(2.5, { node: 'c' });
    sut.family('empty', 'gauge', 'Nothing')(null);

    expect(await sut.render()).toBe('# HELP x_bytes Some bytes\n# TYPE x_bytes gauge\nx_bytes{node="a"} 1\nx_bytes{node="c"} 2.5\n');
  });

  it('escapes label values and help so that a Prometheus parser reads them back', async () => {
    const sut = new PrometheusWriter();
    const nasty = 'a "quoted" \\ back\nslash';
    sut.family('m', 'counter', 'Help with \\ and\nnewline')(3, { model: nasty });

    const parsed = parsePrometheusTextFormat(await sut.render());

    expect(parsed).toEqual([{ name: 'm', help: 'Help with \\ and\nnewline', type: 'COUNTER', metrics: [{ value: '3', labels: { model: nasty } }] }]);
  });

  it('writes a counter with its absolute value, and no line for a reading that cannot be a count', async () => {
    const sut = new PrometheusWriter();
    const c = sut.family('c_total', 'counter', 'c');
    c(408, { k: '1' });
    c(Number.NaN, { k: '2' });
    c(-1, { k: '3' });

    expect(await sut.render()).toBe('# HELP c_total c\n# TYPE c_total counter\nc_total{k="1"} 408\n');
  });

  it('writes special gauge values (prom-client spells NaN "Nan", which Prometheus reads case-insensitively)', async () => {
    const sut = new PrometheusWriter();
    const g = sut.family('g', 'gauge', 'g');
    g(Number.NaN, { k: '1' });
    g(Number.POSITIVE_INFINITY, { k: '2' });
    g(Number.NEGATIVE_INFINITY, { k: '3' });

    expect(await sut.render()).toContain('g{k="1"} Nan\ng{k="2"} +Inf\ng{k="3"} -Inf\n');
  });

  it('writes a summary computed elsewhere: quantile lines, then _sum and _count', async () => {
    const sut = new PrometheusWriter();
    const s = sut.family('delay_seconds', 'summary', 'Delay');
    s(0.001, { node: 'n', quantile: '0.5' });
    s(0.01, { node: 'n', quantile: '0.99' });
    s(1.5, { node: 'n' }, '_sum');
    s(300, { node: 'n' }, '_count');

    const text = await sut.render();
    expect(text).toBe(
      '# HELP delay_seconds Delay\n# TYPE delay_seconds summary\ndelay_seconds{node="n",quantile="0.5"} 0.001\ndelay_seconds{node="n",quantile="0.99"} 0.01\n' +
        'delay_seconds_sum{node="n"} 1.5\ndelay_seconds_count{node="n"} 300\n',
    );
    expect(parsePrometheusTextFormat(text)).toMatchObject([{ name: 'delay_seconds', type: 'SUMMARY', metrics: [{ quantiles: { '0.5': '0.001', '0.99': '0.01' } }] }]);
  });

  it('is empty without samples', async () => {
    expect(await new PrometheusWriter().render()).toBe('');
  });
});
