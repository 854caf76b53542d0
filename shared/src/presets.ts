import { z } from 'zod';

/**
 * The `--models-preset` INI file that the supervisor owns, as data:
 * `[*]` holds global defaults, every other section is a model id (settings for a model in the
 * models directory) or a custom entry (which then needs a `model = /path.gguf` key).
 * Values are kept as strings, exactly as llama-server reads them.
 */
const PresetKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'keys are flag names without dashes, e.g. ctx-size');
const PresetValueSchema = z
  .string()
  .max(4096)
  .refine((v) => !/[\r\n]/.test(v), 'values must be on one line');
const SectionNameSchema = z
  .string()
  .min(1)
  .max(512)
  .refine((v) => !/[\r\n\]]/.test(v), 'section names cannot contain "]" or line breaks');

export const PresetValuesSchema = z.record(PresetKeySchema, PresetValueSchema);
export type PresetValues = z.infer<typeof PresetValuesSchema>;

export const PresetSectionSchema = z.object({ name: SectionNameSchema, values: PresetValuesSchema });
export type PresetSection = z.infer<typeof PresetSectionSchema>;

export const PresetDocumentSchema = z
  .object({
    global: PresetValuesSchema,
    sections: z.array(PresetSectionSchema).max(10_000),
  })
  .refine((doc) => new Set(doc.sections.map((s) => s.name)).size === doc.sections.length, {
    message: 'section names must be unique',
  })
  .refine((doc) => doc.sections.every((s) => s.name !== '*'), { message: 'use `global` for the [*] section' });
export type PresetDocument = z.infer<typeof PresetDocumentSchema>;

export const EMPTY_PRESET: PresetDocument = { global: {}, sections: [] };

/** Keys that only presets understand (they are not llama-server flags). */
export const PRESET_ONLY_KEYS = ['load-on-startup', 'stop-timeout', 'dedup-cache-models'] as const;

export interface IniProblem {
  line: number;
  message: string;
}

export type IniParseResult = { ok: true; preset: PresetDocument } | { ok: false; problems: IniProblem[] };

/**
 * Parses preset INI text; every problem is reported with its line number.
 * Linear in the size of the text: one pass over the lines, section names checked for duplicates
 * through a set (a 500 KB file of empty sections is a single pass, not a pairwise comparison).
 */
export function parsePresetIni(text: string): IniParseResult {
  const problems: IniProblem[] = [];
  const global: PresetValues = {};
  const sections: PresetSection[] = [];
  const sectionNames = new Set<string>();
  let current: PresetValues | null = null;

  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) {
      return;
    }
    const section = /^\[(.+)\]$/.exec(trimmed);
    if (section) {
      const name = (section[1] ?? '').trim();
      if (name === '*') {
        current = global;
        return;
      }
      if (sectionNames.has(name)) {
        problems.push({ line, message: `section [${name}] appears twice` });
      }
      sectionNames.add(name);
      const values: PresetValues = {};
      sections.push({ name, values });
      current = values;
      return;
    }
    const eq = trimmed.indexOf('=');
    if (eq <= 0) {
      problems.push({ line, message: `expected "key = value" or "[section]", got "${trimmed.slice(0, 80)}"` });
      return;
    }
    const key = trimmed.slice(0, eq).trim();
    const value = trimmed.slice(eq + 1).trim();
    if (!PresetKeySchema.safeParse(key).success) {
      problems.push({ line, message: `invalid key "${key.slice(0, 80)}"` });
      return;
    }
    if (current === null) {
      // Keys before the first section: only the file's own header is allowed.
      if (key === 'version' || key === 'LLAMA_CONFIG_VERSION') {
        if (value !== '1') {
          problems.push({ line, message: `unsupported preset version "${value}" (expected 1)` });
        }
        return;
      }
      problems.push({ line, message: `key "${key}" is outside any section` });
      return;
    }
    current[key] = value;
  });

  if (problems.length > 0) {
    return { ok: false, problems };
  }
  const parsed = PresetDocumentSchema.safeParse({ global, sections });
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => ({ line: 0, message: i.message })) };
  }
  return { ok: true, preset: parsed.data };
}

/** Writes a preset document as INI text in a stable order (global first, sections as given). */
export function serializePresetIni(preset: PresetDocument, header = 'Managed by llama-async-proxy: edit in the dashboard'): string {
  const out: string[] = [`; ${header}`, 'version = 1', ''];
  const writeValues = (values: PresetValues): void => {
    for (const [key, value] of Object.entries(values)) {
      out.push(`${key} = ${value}`);
    }
  };
  if (Object.keys(preset.global).length > 0) {
    out.push('[*]');
    writeValues(preset.global);
    out.push('');
  }
  for (const section of preset.sections) {
    out.push(`[${section.name}]`);
    writeValues(section.values);
    out.push('');
  }
  return out.join('\n');
}
