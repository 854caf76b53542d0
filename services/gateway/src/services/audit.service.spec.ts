import { describe, expect, it } from 'vitest';
import { redactSecrets } from '@llamaproxy/shared';
import { summarize } from './audit.service.js';

/** The summary of the whole payload, as it was computed before `summarize` bounded its work. */
function wholeSummary(payload: unknown): string {
  let value = payload;
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const { requestId: _id, ...rest } = payload as Record<string, unknown>;
    value = rest;
  }
  const text = JSON.stringify(redactSecrets(value ?? {})) ?? '{}';
  return text.length > 2000 ? `${text.slice(0, 1999)}…` : text;
}

/** Payloads as the gateway receives them: parsed from JSON. */
const wire = (value: unknown): unknown => JSON.parse(JSON.stringify(value)) as unknown;

let nested: unknown = 'bottom';
for (let i = 0; i < 1000; i++) {
  nested = { a: nested, b: [i] };
}

describe(summarize.name, () => {
  it('drops requestId and redacts secrets at any depth', () => {
    const sut = summarize;
    expect(sut(wire({ requestId: 'r-1', username: 'u', password: 'hunter22', nested: { token: 't', ok: 1 } }))).toBe(
      '{"username":"u","password":"***","nested":{"token":"***","ok":1}}',
    );
    expect(sut(wire({ config: { extraArgs: ['--api-key', 'k', '--hf-token=x', '-c', '4096'] } }))).toBe(
      '{"config":{"extraArgs":["--api-key","***","--hf-token=***","-c","4096"]}}',
    );
    expect(sut(undefined)).toBe('{}');
  });

  it.each<[string, unknown]>([
    ['an object of 20,000 keys', Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]))],
    ['an array of 100,000 numbers', Array.from({ length: 100_000 }, (_, i) => i)],
    ['a 900,000-character string', 'x'.repeat(900_000)],
    ['long strings in many keys', { requestId: 'r', ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`s${i}`, 'y'.repeat(3000)])) }],
    ['1,000 levels of nesting', nested],
    ['10,001 preset sections', { preset: { global: {}, sections: Array.from({ length: 10_001 }, (_, i) => ({ name: `s${i}`, values: { 'ctx-size': '1' } })) } }],
    ['short values of every kind', { a: 1, b: true, c: null, d: [1, 'two', { e: -0 }], f: '', g: 1e308 }],
    ['a __proto__ key', JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"a":1}')],
  ])('summarises %s exactly as the whole payload would be', (_what, payload) => {
    const value = wire(payload);
    expect(summarize(value)).toBe(wholeSummary(value));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
