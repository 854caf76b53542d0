import { CatalogueEntrySchema, CatalogueSchema, ModelStateSchema, type Catalogue, type CatalogueEntry, type ModelKey, type ModelState } from '@llamaproxy/shared';
import { z } from 'zod';
import type { Db } from '../db/database.js';

interface ModelRow {
  node_id: string;
  id: string;
  path: string;
  layout: string;
  files: string;
  mmproj: string | null;
  size_bytes: number;
  modified_at: number;
  valid: number;
  invalid_reason: string | null;
  architecture: string | null;
  name: string | null;
  quantization: string | null;
  parameter_count: number | null;
  context_length: number | null;
  /** Migration 5; NULL in rows written before it. */
  draft: string | null;
  /** JSON of CatalogueEntry['split'] (migration 5); NULL for one file. */
  split: string | null;
  state: string;
}

interface CatalogueRow {
  node_id: string;
  models_dir: string;
  scanned_at: number;
  skipped: string;
}

export interface StoredModel extends CatalogueEntry {
  nodeId: string;
  state: ModelState;
}

const LayoutSchema = z.enum(['single', 'multimodal', 'multi-shard']);
/** Built once: a schema built per row made reading 5,000 models cost most of a second. */
const LayoutColumn = LayoutSchema.catch('single');
const FilesColumn = z.array(z.string()).catch([]);
const SplitSchema = CatalogueEntrySchema.shape.split.unwrap();
const SkippedSchema = CatalogueSchema.shape.skipped.unwrap();
const SplitColumn = SplitSchema.nullable();

/** A directory entry the catalogue skipped (a dangling link), with why. */
export type SkippedEntry = z.infer<typeof SkippedSchema>[number];

/** What a node's last catalogue said beyond its entries. */
export interface CatalogueInfo {
  nodeId: string;
  modelsDir: string;
  scannedAt: number;
  skipped: SkippedEntry[];
}

/** What `ModelRepository.page` reads: keys after `after`, at most `limit`, optionally matching `text`. */
export interface ModelPageQuery {
  after?: ModelKey;
  limit: number;
  text?: string;
}

/** One page of models in key order, and how many match the query in all. */
export interface ModelPage {
  models: StoredModel[];
  total: number;
  /** True when more models follow the page's last one. */
  hasMore: boolean;
}

/** `text` as a LIKE pattern that matches it anywhere, with `\` as the escape character. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Parses a JSON column with `schema`; `fallback` when it is unreadable (a row written by hand, a bug). */
function parseColumn<T>(text: string | null, schema: z.ZodType<T>, fallback: T): T {
  if (text === null) {
    return fallback;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : fallback;
  } catch {
    return fallback;
  }
}

function unloaded(id: string): ModelState {
  return { id, status: 'unloaded', progress: null, stage: null, args: [], error: null, updatedAt: Date.now() };
}

/** The models table: the supervisor's catalogue plus each model's live state. */
export class ModelRepository {
  private readonly db: Db;
  /**
   * Per node, the models its router reported (model states and state lists): such a row is kept
   * when it leaves the catalogue (a custom preset entry, a linked model), while the router reports it.
   */
  private readonly reported = new Map<string, Set<string>>();

  constructor(db: Db) {
    this.db = db;
  }

  list(): StoredModel[] {
    const rows = this.db.prepare('SELECT * FROM models ORDER BY node_id, id').all() as ModelRow[];
    return rows.map((r) => this.toModel(r));
  }

  /**
   * One page of models in key order (node id, then id; the primary key, so a page costs what it
   * returns plus the count): after `after`, at most `limit`, and with `text` only those whose id,
   * name, architecture, quantization or path contains it (case-insensitive for ASCII).
   */
  page(query: ModelPageQuery): ModelPage {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    const text = query.text?.trim() ?? '';
    if (text !== '') {
      where.push(`(id LIKE @text ESCAPE '\\' OR name LIKE @text ESCAPE '\\' OR architecture LIKE @text ESCAPE '\\'
        OR quantization LIKE @text ESCAPE '\\' OR path LIKE @text ESCAPE '\\')`);
      params.text = containsPattern(text);
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM models ${filter}`).get(params) as { n: number }).n;
    const after = query.after === undefined ? [] : ['(node_id, id) > (@afterNode, @afterId)'];
    if (query.after !== undefined) {
      params.afterNode = query.after.nodeId;
      params.afterId = query.after.id;
    }
    const pageWhere = [...where, ...after];
    const rows = this.db
      .prepare(`SELECT * FROM models ${pageWhere.length > 0 ? `WHERE ${pageWhere.join(' AND ')}` : ''} ORDER BY node_id, id LIMIT @limit`)
      .all({ ...params, limit: query.limit + 1 }) as ModelRow[];
    const hasMore = rows.length > query.limit;
    return { models: rows.slice(0, query.limit).map((r) => this.toModel(r)), total, hasMore };
  }

  /** The first model with this id, in node order (a model id names one model per node); null when none. */
  findById(id: string): StoredModel | null {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ? ORDER BY node_id LIMIT 1').get(id) as ModelRow | undefined;
    return row ? this.toModel(row) : null;
  }

  get(nodeId: string, id: string): StoredModel | null {
    const row = this.db.prepare('SELECT * FROM models WHERE node_id = ? AND id = ?').get(nodeId, id) as ModelRow | undefined;
    return row ? this.toModel(row) : null;
  }

  /**
   * Makes the table match a node's catalogue: entries are inserted or updated (keeping their
   * live state), and models whose files are gone are removed, never left stale, unless the router
   * still reports them (or they run): those keep their row and state, without catalogue data.
   */
  syncCatalogue(catalogue: Catalogue): void {
    const upsert = this.upsertStatement();
    const saveInfo = this.db.prepare(`
      INSERT INTO catalogues (node_id, models_dir, scanned_at, skipped) VALUES (@node_id, @models_dir, @scanned_at, @skipped)
      ON CONFLICT (node_id) DO UPDATE SET models_dir = excluded.models_dir, scanned_at = excluded.scanned_at, skipped = excluded.skipped`);
    const remove = this.db.prepare('DELETE FROM models WHERE node_id = ? AND id = ?');
    const detach = this.db.prepare(
      `UPDATE models SET path = '', layout = 'single', files = '[]', mmproj = NULL, size_bytes = 0, modified_at = 0, valid = 1,
         invalid_reason = NULL, architecture = NULL, name = NULL, quantization = NULL, parameter_count = NULL,
         context_length = NULL, draft = NULL, split = NULL, updated_at = ? WHERE node_id = ? AND id = ?`,
    );
    const reported = this.reported.get(catalogue.nodeId);
    this.db.transaction(() => {
      const existing = new Set(
        (this.db.prepare('SELECT id FROM models WHERE node_id = ?').all(catalogue.nodeId) as { id: string }[]).map((r) => r.id),
      );
      for (const e of catalogue.entries) {
        existing.delete(e.id);
        upsert.run(this.entryRow(catalogue.nodeId, e));
      }
      for (const gone of existing) {
        const status = this.get(catalogue.nodeId, gone)?.state.status;
        if (reported?.has(gone) === true || status === 'loaded' || status === 'loading' || status === 'sleeping') {
          detach.run(Date.now(), catalogue.nodeId, gone);
        } else {
          remove.run(catalogue.nodeId, gone);
        }
      }
      saveInfo.run({ node_id: catalogue.nodeId, models_dir: catalogue.modelsDir, scanned_at: catalogue.scannedAt, skipped: JSON.stringify(catalogue.skipped ?? []) });
    })();
  }

  /**
   * Stores catalogue entries of a scan still in progress (`catalogue-entries`): inserted or updated,
   * keeping their live state; nothing is removed (the complete catalogue does that).
   */
  upsertEntries(nodeId: string, entries: readonly CatalogueEntry[]): void {
    const upsert = this.upsertStatement();
    this.db.transaction(() => {
      for (const e of entries) {
        upsert.run(this.entryRow(nodeId, e));
      }
    })();
  }

  /** The live states of a node's models, by id (for comparing with what the node reports). */
  statesOf(nodeId: string): Map<string, string> {
    const rows = this.db.prepare('SELECT id, state FROM models WHERE node_id = ?').all(nodeId) as { id: string; state: string }[];
    return new Map(rows.map((r) => [r.id, r.state]));
  }

  private upsertStatement(): ReturnType<Db['prepare']> {
    return this.db.prepare(`
      INSERT INTO models (node_id, id, path, layout, files, mmproj, size_bytes, modified_at, valid, invalid_reason,
                          architecture, name, quantization, parameter_count, context_length, draft, split, state, updated_at)
      VALUES (@node_id, @id, @path, @layout, @files, @mmproj, @size_bytes, @modified_at, @valid, @invalid_reason,
              @architecture, @name, @quantization, @parameter_count, @context_length, @draft, @split, @state, @updated_at)
      ON CONFLICT (node_id, id) DO UPDATE SET
        path = excluded.path, layout = excluded.layout, files = excluded.files, mmproj = excluded.mmproj,
        size_bytes = excluded.size_bytes, modified_at = excluded.modified_at, valid = excluded.valid,
        invalid_reason = excluded.invalid_reason, architecture = excluded.architecture, name = excluded.name,
        quantization = excluded.quantization, parameter_count = excluded.parameter_count,
        context_length = excluded.context_length, draft = excluded.draft, split = excluded.split,
        updated_at = excluded.updated_at`);
  }

  private entryRow(nodeId: string, e: CatalogueEntry): Record<string, string | number | null> {
    return {
      node_id: nodeId,
      id: e.id,
      path: e.path,
      layout: e.layout,
      files: JSON.stringify(e.files),
      mmproj: e.mmproj,
      size_bytes: e.sizeBytes,
      modified_at: e.modifiedAt,
      valid: e.valid ? 1 : 0,
      invalid_reason: e.invalidReason,
      architecture: e.architecture,
      name: e.name,
      quantization: e.quantization,
      parameter_count: e.parameterCount,
      context_length: e.contextLength,
      draft: e.draft ?? null,
      split: e.split === undefined ? null : JSON.stringify(e.split),
      state: JSON.stringify(unloaded(e.id)),
      updated_at: Date.now(),
    };
  }

  /** What the node's last catalogue said beyond its entries; null before its first catalogue. */
  catalogueInfo(nodeId: string): CatalogueInfo | null {
    const row = this.db.prepare('SELECT * FROM catalogues WHERE node_id = ?').get(nodeId) as CatalogueRow | undefined;
    return row === undefined ? null : this.toInfo(row);
  }

  /** Every node's catalogue information, by node id. */
  catalogueInfos(): CatalogueInfo[] {
    return (this.db.prepare('SELECT * FROM catalogues ORDER BY node_id').all() as CatalogueRow[]).map((r) => this.toInfo(r));
  }

  /**
   * Ids of the models in the node's models directory (its catalogue; not the rows only the router
   * reports, such as custom preset entries); null before the node reported a catalogue.
   */
  catalogueIds(nodeId: string): Set<string> | null {
    if (this.catalogueInfo(nodeId) === null) {
      return null;
    }
    const rows = this.db.prepare("SELECT id FROM models WHERE node_id = ? AND path != ''").all(nodeId) as { id: string }[];
    return new Set(rows.map((r) => r.id));
  }

  /**
   * The full list of models a node's router reports now: rows the catalogue does not hold
   * (path '') and the router no longer reports are removed.
   */
  retainReported(nodeId: string, ids: readonly string[]): void {
    const keep = new Set(ids);
    this.reported.set(nodeId, keep);
    const bare = this.db.prepare("SELECT id FROM models WHERE node_id = ? AND path = ''").all(nodeId) as { id: string }[];
    const remove = this.db.prepare('DELETE FROM models WHERE node_id = ? AND id = ?');
    this.db.transaction(() => {
      for (const { id } of bare) {
        if (!keep.has(id)) {
          remove.run(nodeId, id);
        }
      }
    })();
  }

  /** Records a model's live state; a model only the router knows (a custom preset) gets a row too. */
  setState(nodeId: string, state: ModelState): void {
    let reported = this.reported.get(nodeId);
    if (reported === undefined) {
      reported = new Set();
      this.reported.set(nodeId, reported);
    }
    reported.add(state.id);
    const result = this.db
      .prepare('UPDATE models SET state = ?, updated_at = ? WHERE node_id = ? AND id = ?')
      .run(JSON.stringify(state), Date.now(), nodeId, state.id);
    if (result.changes === 0) {
      this.db
        .prepare(
          `INSERT OR IGNORE INTO models (node_id, id, path, layout, files, size_bytes, modified_at, valid, state, updated_at)
           VALUES (?, ?, '', 'single', '[]', 0, 0, 1, ?, ?)`,
        )
        .run(nodeId, state.id, JSON.stringify(state), Date.now());
    }
  }

  /** Records the full list of a node's model states (what its router reports now). */
  setStates(nodeId: string, states: ModelState[]): void {
    this.db.transaction(() => {
      for (const state of states) {
        this.setState(nodeId, state);
      }
    })();
    this.retainReported(nodeId, states.map((s) => s.id));
  }

  private toModel(r: ModelRow): StoredModel {
    const state = ModelStateSchema.safeParse(JSON.parse(r.state));
    const split = parseColumn(r.split, SplitColumn, null);
    return {
      nodeId: r.node_id,
      id: r.id,
      path: r.path,
      layout: LayoutColumn.parse(r.layout),
      files: FilesColumn.parse(JSON.parse(r.files)),
      mmproj: r.mmproj,
      sizeBytes: r.size_bytes,
      modifiedAt: r.modified_at,
      valid: r.valid === 1,
      invalidReason: r.invalid_reason,
      architecture: r.architecture,
      name: r.name,
      quantization: r.quantization,
      parameterCount: r.parameter_count,
      contextLength: r.context_length,
      draft: r.draft,
      ...(split === null ? {} : { split }),
      state: state.success ? state.data : unloaded(r.id),
    };
  }

  private toInfo(r: CatalogueRow): CatalogueInfo {
    return { nodeId: r.node_id, modelsDir: r.models_dir, scannedAt: r.scanned_at, skipped: parseColumn(r.skipped, SkippedSchema, []) };
  }
}
