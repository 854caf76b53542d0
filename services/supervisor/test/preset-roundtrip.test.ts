import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argValueProblem, indexArgs, parsePresetIni, presetProblems, PresetDocumentSchema, serializePresetIni, type LlamaArg, type PresetDocument } from '@llamaproxy/shared';
import { buildTinyModel } from '@llamaproxy/tests/gguf';
import { ensureLlamaServer, listRouterModels, startLlamaRouter, type LlamaRouter } from '@llamaproxy/tests/harness';
import { parseLlamaHelp } from '../src/services/llama-help.js';

/** `[name]\nkey = value\n` as the router renders a model's preset in `/models` (common_preset::to_ini). */
function readRendered(ini: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of ini.split('\n')) {
    const m = /^([^[=\s][^=]*?) = (.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      out[m[1]] = m[2];
    }
  }
  return out;
}

/** The key the router writes for an argument: its last positive flag, without dashes. */
function renderedKey(arg: LlamaArg): string {
  const positive = arg.flags.filter((f) => f !== arg.negation && !/^--no-/.test(f) && !(arg.negation !== null && /^-n[a-z]/.test(f) && arg.flags.includes(`-${f.slice(2)}`)));
  return (positive.at(-1) ?? arg.key).replace(/^-+/, '');
}

async function renderedPresets(dir: string, ini: string): Promise<Map<string, Record<string, string>>> {
  const presetPath = join(dir, 'preset.ini');
  writeFileSync(presetPath, ini);
  let router: LlamaRouter | null = null;
  try {
    router = await startLlamaRouter({ modelsDir: join(dir, 'models'), extraArgs: ['--models-preset', presetPath] });
    const models = await listRouterModels(router.url);
    return new Map(models.map((m) => [m.id, readRendered(String((m.status as { preset?: string }).preset ?? ''))]));
  } finally {
    await router?.stop();
  }
}

/**
 * The preset codec against the real llama-server: what the codec writes the router reads back with
 * the same values (its `/models` `preset` field); what the codec refuses, the router reads otherwise.
 */
describe('preset round trip through llama-server', () => {
  let dir: string;
  let args: LlamaArg[];
  let index: Map<string, LlamaArg>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'llamaproxy-preset-rt-'));
    execFileSync('mkdir', ['-p', join(dir, 'models')]);
    writeFileSync(join(dir, 'models', 'tiny.gguf'), buildTinyModel({ seed: 5 }));
    args = parseLlamaHelp(execFileSync(await ensureLlamaServer(), ['--help'], { encoding: 'utf8' }));
    index = indexArgs(args);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads back every value the codec writes, unchanged', async () => {
    const values: Record<string, string> = {
      'n-gpu-layers': 'all',
      'flash-attn': '1',
      mmap: 'false',
      'no-kv-offload': 'true',
      'cache-type-k': 'q8_0',
      'split-mode': 'row',
      'reasoning-format': 'deepseek-legacy',
      samplers: 'top_k',
      'sampling-seq': 'kpt',
      temp: '0.7',
      'reasoning-budget-message': 'Stop thinking now, ü',
    };
    const preset: PresetDocument = PresetDocumentSchema.parse({
      global: { 'top-k': '20' },
      sections: [
        { name: 'tiny', values },
        { name: 'org/custom:Q4_K_M', values: { model: join(dir, 'models', 'tiny.gguf'), 'load-on-startup': 'false', 'stop-timeout': '3' } },
      ],
    });
    for (const [key, value] of Object.entries(values)) {
      expect({ key, problem: argValueProblem(index.get(key)!, value) }).toEqual({ key, problem: null });
    }
    const text = serializePresetIni(preset);
    expect(parsePresetIni(text)).toEqual({ ok: true, preset });

    const rendered = await renderedPresets(dir, text);
    const tiny = rendered.get('tiny') ?? {};
    for (const [key, value] of Object.entries(values)) {
      const arg = index.get(key)!;
      // A negated key is stored under the positive flag with the opposite value (parse_bool_arg).
      const expected = key.startsWith('no-') ? (value === 'true' ? 'false' : 'true') : value;
      expect({ key, value: tiny[renderedKey(arg)] }).toEqual({ key, value: expected });
    }
    expect(rendered.get('org/custom:Q4_K_M')).toMatchObject({ 'top-k': '20', 'stop-timeout': '3', 'load-on-startup': 'false' });
  });

  it('refuses only what llama-server would read otherwise', async () => {
    const raw = [
      '[tiny]',
      'samplers = top_k;top_p;temperature',
      'chat-template = chatml#x',
      'no-mmap = yes',
      'n = 256',
      'predict = 128',
      'version = 7',
      '[org/other:q8_0]',
      `model = ${join(dir, 'models', 'tiny.gguf')}`,
      '',
    ].join('\n');
    const parsed = parsePresetIni(raw);
    expect(parsed.ok).toBe(false);
    const problems = parsed.ok ? [] : parsed.problems.map((p) => `line ${p.line}`);
    expect(problems).toEqual(expect.arrayContaining(['line 2', 'line 3', 'line 7', 'line 8']));
    // What the text parser leaves to the argument rules, those refuse.
    const doc: PresetDocument = { global: {}, sections: [{ name: 'tiny', values: { 'no-mmap': 'yes', n: '256', predict: '128' } }] };
    expect(presetProblems(doc, args)).toEqual([expect.stringMatching(/^\[tiny\] no-mmap: /), expect.stringMatching(/^\[tiny\] predict: sets the same argument as n/)]);

    const rendered = await renderedPresets(dir, raw);
    const tiny = rendered.get('tiny') ?? {};
    expect(tiny.samplers).toBe('top_k'); // cut at ";"
    expect(tiny['chat-template']).toBe('chatml'); // cut at "#"
    expect(tiny.mmap).toBe('true'); // "no-mmap = yes" turned mmap on
    expect(tiny['n-predict']).toBe('128'); // of two names, the one that sorts last (not the last written)
    expect(rendered.has('org/other:q8_0')).toBe(false);
    expect(rendered.has('org/other:Q8_0')).toBe(true); // the tag was rewritten
  });
});
