import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EMPTY_PRESET, parsePresetIni, serializePresetIni, type PresetDocument } from '@llamaproxy/shared';

/** The `--models-preset` INI file, owned by the supervisor; written atomically. */
export class PresetFile {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<PresetDocument> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return EMPTY_PRESET;
      }
      throw err;
    }
    const parsed = parsePresetIni(text);
    if (!parsed.ok) {
      throw new Error(`${this.path}: ${parsed.problems.map((p) => `line ${p.line}: ${p.message}`).join('; ')}`);
    }
    return parsed.preset;
  }

  async write(preset: PresetDocument): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, serializePresetIni(preset), 'utf8');
    await rename(tmp, this.path);
  }

  /** Creates an empty preset when none exists, so llama-server can always be given one. */
  async ensure(): Promise<void> {
    try {
      await readFile(this.path);
    } catch {
      await this.write(EMPTY_PRESET);
    }
  }
}

/** The last configuration applied by the gateway, kept across supervisor restarts. */
export class JsonFile<T> {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  async read(): Promise<unknown> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  async write(value: T): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(value, null, 2), 'utf8');
    await rename(tmp, this.path);
  }
}
