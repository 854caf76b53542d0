import { z } from 'zod';

/**
 * The `--models-preset` INI file that the supervisor owns, as data:
 * `[*]` holds global defaults, every other section is a model id (settings for a model in the
 * models directory) or a custom entry (which then needs a model source such as `model = /path.gguf`).
 * Values are kept as strings, exactly as llama-server reads them.
 *
 * The dialect is llama.cpp's own (common/preset.cpp, `parse_ini_from_file`), and everything this
 * module accepts is read back by llama-server unchanged:
 * - a key is `[a-zA-Z_][a-zA-Z0-9_.-]*` and starts its line (an indented line breaks the whole file);
 * - a value ends at the first `;` or `#` (the rest is a comment) and at the line end, and loses its
 *   surrounding blanks, so values holding `;`, `#` or a line break, or starting or ending with a
 *   blank, cannot be written and are refused with the reason;
 * - a section header is `[` blanks name `]`: leading blanks are dropped, trailing ones kept, `]`
 *   ends the name; `[*]` is the global section; a `name:tag` section has its tag rewritten to
 *   llama.cpp's canonical form (`:q4_k_m` becomes `:Q4_K_M`), so only canonical tags are accepted;
 * - a repeated section replaces the earlier one, a repeated key the earlier value: both are refused.
 */

/** llama.cpp's `ident` rule: what a key may look like in a preset file. */
const PRESET_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const PresetKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(PRESET_KEY_PATTERN, 'keys are flag names without dashes that start with a letter or "_", e.g. ctx-size');

/**
 * Why llama-server would not read `value` back as written in a preset file, or null.
 * Used by the schema below and by editors that want the reason before a round trip.
 */
export function presetValueProblem(value: string): string | null {
  if (/[\r\n]/.test(value)) {
    return 'values must be on one line';
  }
  const cut = /[;#]/.exec(value);
  if (cut !== null) {
    const kept = value.slice(0, cut.index).trim();
    return (
      `llama-server's preset reader ends a value at "${cut[0]}" (the rest is a comment), so it would read ` +
      `${kept === '' ? 'an empty value' : `only "${kept}"`}; a preset value cannot contain ";" or "#"` +
      (value.includes(';') ? ' (for a sampler order, use sampling-seq with letters, e.g. "kpt" for top_k;top_p;temperature)' : '')
    );
  }
  if (value !== value.trim()) {
    return 'llama-server drops blanks at the start and end of a value; remove them';
  }
  return null;
}

const PresetValueSchema = z
  .string()
  .max(4096)
  .superRefine((v, ctx) => {
    const problem = presetValueProblem(v);
    if (problem !== null) {
      ctx.addIssue({ code: 'custom', message: problem });
    }
  });

/**
 * The tag llama.cpp keeps for `name:tag` (common/preset.cpp, `canonical_tag`): the part after the
 * last `-` or `.` when it is `[A-Za-z0-9_]+`, else the whole tag, upper-cased.
 */
export function canonicalPresetTag(tag: string): string {
  const m = /[-.]([A-Z0-9_]+)$/i.exec(tag);
  return (m?.[1] ?? tag).toUpperCase();
}

/** Why llama-server would read a section named `name` under another name (or not at all), or null. */
export function presetSectionNameProblem(name: string): string | null {
  if (/[\r\n]/.test(name) || name.includes(']')) {
    return 'section names cannot contain "]" or line breaks';
  }
  if (name !== name.trim()) {
    return `llama-server drops blanks at the start of a section name and keeps them at the end, so [${name}] would not be read as written; remove them`;
  }
  if (name === 'default') {
    return 'llama-server keeps the name "default" for keys written before any section; choose another name';
  }
  const colon = name.lastIndexOf(':');
  if (name !== '*' && colon >= 0) {
    const tag = name.slice(colon + 1);
    const canon = canonicalPresetTag(tag);
    if (canon !== tag) {
      return `llama-server reads the tag of [${name}] as "${canon}"; write the section as [${name.slice(0, colon + 1)}${canon}]`;
    }
  }
  return null;
}

const SectionNameSchema = z
  .string()
  .min(1)
  .max(512)
  .superRefine((v, ctx) => {
    const problem = presetSectionNameProblem(v);
    if (problem !== null) {
      ctx.addIssue({ code: 'custom', message: problem });
    }
  });

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
 * Parses preset INI text the way llama-server does; every line llama-server would read otherwise
 * than as written (or not at all) is reported with its line number. Linear in the size of the
 * text: one pass over the lines, duplicates found through sets.
 */
/** Problems reported for one INI text at most; parsing stops there (see `parsePresetIni`). */
export const MAX_INI_PROBLEMS = 100;

export function parsePresetIni(text: string): IniParseResult {
  const problems: IniProblem[] = [];
  const global: PresetValues = {};
  const sections: PresetSection[] = [];
  const sectionNames = new Set<string>();
  let current: PresetValues | null = null;
  let currentName = '';

  // llama.cpp's `newline` is "\r\n", "\n" or a lone "\r".
  const lines = text.split(/\r\n|\n|\r/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (problems.length >= MAX_INI_PROBLEMS) {
      // Enough to act on; reading on would only cost time (a hostile file has one per line).
      return;
    }
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) {
      return;
    }
    if (/^[ \t]/.test(raw)) {
      problems.push({ line, message: 'llama-server cannot read an indented line (the whole file would be refused); start it at the first column' });
      return;
    }
    if (raw.startsWith('[')) {
      // header-line ::= "[" ws name "]" eol, where eol may carry a comment.
      const header = /^\[[ \t]*([^\]]+)\][ \t]*(?:[;#].*)?$/.exec(raw);
      if (!header) {
        problems.push({ line, message: `expected "[section]", got "${trimmed.slice(0, 80)}"` });
        return;
      }
      const name = header[1] ?? '';
      if (name === '*') {
        current = global;
        currentName = '*';
        return;
      }
      const problem = presetSectionNameProblem(name);
      if (problem !== null) {
        problems.push({ line, message: problem });
      }
      if (sectionNames.has(name)) {
        problems.push({ line, message: `section [${name}] appears twice` });
      }
      sectionNames.add(name);
      const values: PresetValues = {};
      sections.push({ name, values });
      current = values;
      currentName = name;
      return;
    }
    const eq = raw.indexOf('=');
    if (eq <= 0) {
      problems.push({ line, message: `expected "key = value" or "[section]", got "${trimmed.slice(0, 80)}"` });
      return;
    }
    const key = raw.slice(0, eq).trimEnd();
    const rest = raw.slice(eq + 1);
    if (!PresetKeySchema.safeParse(key).success) {
      const why = /^\d/.test(key) ? ' (llama-server cannot read a key that starts with a digit, and would refuse the whole file)' : '';
      problems.push({ line, message: `invalid key "${key.slice(0, 80)}"${why}` });
      return;
    }
    // value ::= everything up to the first ";" or "#" (a comment) or the line end, blanks trimmed.
    const cut = /[;#]/.exec(rest);
    const value = (cut === null ? rest : rest.slice(0, cut.index)).trim();
    if (cut !== null && value !== '' && !/[ \t]$/.test(rest.slice(0, cut.index))) {
      // `samplers = top_k;top_p` looks like one value, but llama-server reads only "top_k".
      problems.push({ line, message: `${key}: ${presetValueProblem(rest.trim()) ?? 'a value cannot contain ";" or "#"'}` });
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
    if (key === 'version') {
      problems.push({ line, message: `[${currentName}] version: llama-server ignores "version" inside a section; remove it` });
      return;
    }
    if (Object.hasOwn(current, key)) {
      problems.push({ line, message: `[${currentName}] ${key} appears twice (llama-server would use only the last value)` });
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

/**
 * Writes a preset document as INI text in a stable order (global first, sections as given).
 * The document must satisfy `PresetDocumentSchema` (callers parse at their boundary); its values
 * are then read back by llama-server exactly as given.
 */
export function serializePresetIni(preset: PresetDocument, header = 'Managed by llama-async-proxy: edit in the dashboard'): string {
  const out: string[] = [`; ${header.replace(/[\r\n]+/g, ' ')}`, 'version = 1', ''];
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
