import { describe, expect, it } from 'vitest';
import { MAX_INI_PROBLEMS, canonicalPresetTag, parsePresetIni, PresetDocumentSchema, presetSectionNameProblem, presetValueProblem, serializePresetIni, type PresetDocument } from './presets.js';

describe(parsePresetIni.name, () => {
  it('reads the header, global defaults, model sections and custom entries', () => {
    const result = parsePresetIni(
      [
        '; comment',
        'version = 1',
        '[*]',
        'c = 8192',
        'n-gpu-layers = 8',
        '',
        '[tiny-llama-a]',
        '# another comment',
        'ctx-size = 4096',
        'load-on-startup = true',
        '[custom_model]',
        'model = /models/x.gguf',
      ].join('\n'),
    );
    expect(result).toEqual({
      ok: true,
      preset: {
        global: { c: '8192', 'n-gpu-layers': '8' },
        sections: [
          { name: 'tiny-llama-a', values: { 'ctx-size': '4096', 'load-on-startup': 'true' } },
          { name: 'custom_model', values: { model: '/models/x.gguf' } },
        ],
      },
    });
  });

  it('accepts the LLAMA_CONFIG_VERSION header the old dashboard wrote', () => {
    expect(parsePresetIni('LLAMA_CONFIG_VERSION = 1\n[*]\nc = 1').ok).toBe(true);
  });

  it.each([
    ['key outside any section', 'c = 1', 'line 1: key "c" is outside any section'],
    ['unsupported version', 'version = 2', 'line 1: unsupported preset version "2" (expected 1)'],
    ['not key = value', '[*]\njust words', 'line 2: expected "key = value" or "[section]", got "just words"'],
    ['invalid key', '[*]\n--c = 1', 'line 2: invalid key "--c"'],
    ['duplicate section', '[a]\nc = 1\n[a]\nc = 2', 'line 3: section [a] appears twice'],
  ])('reports %s with its line number', (_name, text, message) => {
    const result = parsePresetIni(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems.map((p) => `line ${p.line}: ${p.message}`)).toContain(message);
    }
  });
});

describe(`${parsePresetIni.name} on large input`, () => {
  // Sizes of the `presets:validate` limit (512,000 characters). These assert results only; the
  // parser's speed on them is measured by `npm run bench` (tests/bench/presets.bench.ts).
  const SIZE = 500_000;
  const fill = (line: (i: number) => string, header: string[] = []): { text: string; lines: number } => {
    const out = [...header];
    let size = header.reduce((n, l) => n + l.length + 1, 0);
    for (let i = 0; size < SIZE; i++) {
      const next = line(i);
      out.push(next);
      size += next.length + 1;
    }
    return { text: out.join('\n'), lines: out.length - header.length };
  };

  it('refuses 500 KB of empty sections as too many sections', () => {
    const { text, lines } = fill((i) => `[s${i}]`);
    expect(lines).toBeGreaterThan(10_000);
    const result = parsePresetIni(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]?.message).toMatch(/10000/);
    }
  });

  it('reads 500 KB of 10,000 empty sections with long names', () => {
    const name = (i: number): string => `org/some-model-repository-GGUF-variant-${String(i).padStart(5, '0')}:Q4_K_M`;
    const text = Array.from({ length: 10_000 }, (_, i) => `[${name(i)}]`).join('\n');
    expect(text.length).toBeGreaterThan(SIZE);
    const result = parsePresetIni(text);
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.preset.sections).toHaveLength(10_000);
      expect(result.preset.sections[9_999]).toEqual({ name: name(9_999), values: {} });
    }
  });

  it('reports the first MAX_INI_PROBLEMS repeats of a section in 500 KB of one repeated section, then stops', () => {
    const { text, lines } = fill(() => '[a]');
    expect(lines).toBeGreaterThan(MAX_INI_PROBLEMS * 10);
    const result = parsePresetIni(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.problems).toHaveLength(MAX_INI_PROBLEMS);
      expect(result.problems[0]).toEqual({ line: 2, message: 'section [a] appears twice' });
      expect(result.problems.at(-1)).toEqual({ line: MAX_INI_PROBLEMS + 1, message: 'section [a] appears twice' });
    }
  });

  it('reads 500 KB of keys in one section', () => {
    const { text, lines } = fill((i) => `key-${i} = value ${i}`, ['[model]']);
    const result = parsePresetIni(text);
    expect(result.ok).toBe(true);
    if (result.ok) {
      const values = result.preset.sections[0]?.values ?? {};
      expect(Object.keys(values)).toHaveLength(lines);
      expect(values[`key-${lines - 1}`]).toBe(`value ${lines - 1}`);
    }
  });
});

describe(serializePresetIni.name, () => {
  it('writes what parsePresetIni reads back unchanged', () => {
    const preset: PresetDocument = {
      global: { 'ctx-size': '2048' },
      sections: [
        { name: 'org/model:Q4_K_M', values: { 'n-gpu-layers': 'all', 'stop-timeout': '5' } },
        { name: 'custom', values: { model: '/m/a b.gguf' } },
      ],
    };
    const text = serializePresetIni(preset);
    expect(text).toContain('version = 1');
    expect(parsePresetIni(text)).toEqual({ ok: true, preset });
  });

  it('omits an empty [*] section', () => {
    expect(serializePresetIni({ global: {}, sections: [] })).not.toContain('[*]');
  });
});

/** llama.cpp's preset reader (common/preset.cpp) is the reference: what it cannot read as written is refused. */
describe(`${parsePresetIni.name} in llama.cpp's dialect`, () => {
  const problemsOf = (text: string): string[] => {
    const result = parsePresetIni(text);
    return result.ok ? [] : result.problems.map((p) => p.message);
  };

  it('refuses a ";" inside a value, which llama-server would cut off, and says what to use instead', () => {
    const problems = problemsOf('[m]\nsamplers = top_k;top_p;temperature');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/only "top_k"/);
    expect(problems[0]).toMatch(/sampling-seq/);
  });

  it('refuses a "#" attached to a value', () => {
    expect(problemsOf('[m]\nchat-template-file = a#b.jinja')[0]).toMatch(/only "a"/);
  });

  it('reads a comment after a blank the way llama-server does (value before it)', () => {
    expect(parsePresetIni('[m]\nctx-size = 4096 ; the big one\n[n] # note\nc = 1')).toEqual({
      ok: true,
      preset: { global: {}, sections: [{ name: 'm', values: { 'ctx-size': '4096' } }, { name: 'n', values: { c: '1' } }] },
    });
  });

  it.each([
    ['a key that starts with a digit (llama-server refuses the whole file)', '[m]\n4bit = 1', /invalid key "4bit"/],
    ['an indented key line', '[m]\n  c = 1', /indented/],
    ['a section name with a trailing blank (llama-server keeps it)', '[m]\nc = 1\n[x ]', /blanks/],
    ['a non-canonical tag (llama-server renames it)', '[org/model:q4_k_m]\nc = 1', /\[org\/model:Q4_K_M\]/],
    ['a repeated key (llama-server keeps only the last)', '[m]\nc = 1\nc = 2', /appears twice/],
    ['"version" inside a section (llama-server drops it)', '[m]\nversion = 1', /ignores "version"/],
  ])('refuses %s', (_name, text, message) => {
    expect(problemsOf(text).join('\n')).toMatch(message);
  });

  it('reads "[ *]" as the global section, as llama-server does', () => {
    expect(parsePresetIni('[ *]\nc = 1')).toEqual({ ok: true, preset: { global: { c: '1' }, sections: [] } });
  });

  it('refuses in the document schema what it refuses in text: " *" as a section name, ";" in a value', () => {
    expect(PresetDocumentSchema.safeParse({ global: {}, sections: [{ name: ' *', values: {} }] }).success).toBe(false);
    expect(PresetDocumentSchema.safeParse({ global: { samplers: 'top_k;top_p' }, sections: [] }).success).toBe(false);
    expect(PresetDocumentSchema.safeParse({ global: { '9x': '1' }, sections: [] }).success).toBe(false);
    expect(PresetDocumentSchema.safeParse({ global: { samplers: 'top_k' }, sections: [{ name: 'org/m:Q4_K_M', values: {} }] }).success).toBe(true);
  });

  it('names llama-server\'s canonical tags', () => {
    expect(canonicalPresetTag('q4_k_m')).toBe('Q4_K_M');
    expect(canonicalPresetTag('model-q8_0')).toBe('Q8_0');
    expect(presetSectionNameProblem('org/m:Q4_K_M')).toBeNull();
    expect(presetValueProblem(' x')).toMatch(/blanks/);
  });
});
