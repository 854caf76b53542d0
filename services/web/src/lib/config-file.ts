/**
 * The export file: the whole configuration (router config, dashboard settings, preset) as one
 * JSON document. Import validates it with the shared schemas before anything is sent.
 */
import {
  DashboardSettingsSchema,
  PresetDocumentSchema,
  ServerConfigSchema,
  type DashboardSettings,
  type PresetDocument,
  type ServerConfig,
} from '@llamaproxy/shared';
import { z } from 'zod';

export const CONFIG_FILE_FORMAT = 'llamaproxy-config';

const ConfigFileSchema = z.object({
  format: z.literal(CONFIG_FILE_FORMAT),
  version: z.literal(1),
  exportedAt: z.string().optional(),
  config: ServerConfigSchema,
  settings: DashboardSettingsSchema,
  preset: PresetDocumentSchema,
});

export interface ConfigFile {
  format: typeof CONFIG_FILE_FORMAT;
  version: 1;
  exportedAt?: string;
  config: ServerConfig;
  settings: DashboardSettings;
  preset: PresetDocument;
}

export function buildConfigFile(config: ServerConfig, settings: DashboardSettings, preset: PresetDocument, now = new Date()): ConfigFile {
  return { format: CONFIG_FILE_FORMAT, version: 1, exportedAt: now.toISOString(), config, settings, preset };
}

export type ParsedConfigFile = { ok: true; file: ConfigFile } | { ok: false; problems: string[] };

export function parseConfigFile(text: string): ParsedConfigFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problems: ['The file is not JSON'] };
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`) };
  }
  return { ok: true, file: parsed.data };
}
