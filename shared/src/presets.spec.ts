import { describe, expect, it } from 'vitest';
import { parsePresetIni, serializePresetIni, type PresetDocument } from './presets.js';

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
