import { EventEmitter } from 'node:events';
import type { Catalogue, CatalogueEntry } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import { catalogueSignature, type CatalogueScanner } from './catalogue.js';
import type { LlamaOutput } from './llama-output.js';
import type { ModelStates } from './model-states.js';
import type { RouterSync } from './router-sync.js';
import type { Clock } from './supervisor-ports.js';

export interface CatalogueServiceDeps {
  scanner: Pick<CatalogueScanner, 'scan'>;
  models: Pick<ModelStates, 'setInvalid'>;
  output: Pick<LlamaOutput, 'knowModels'>;
  /** Told to reread the models directory when it changed (a no-op while llama-server is down). */
  router: Pick<RouterSync, 'reload'>;
  clock: Clock;
  logger: Logger;
}

interface CatalogueServiceEvents {
  catalogue: [catalogue: Catalogue];
  /** Entries of the first scan as they are read, before its complete `catalogue`. */
  entries: [entries: CatalogueEntry[]];
}

/**
 * The models directory as the supervisor knows it: scanned at start, every `scanIntervalMs` and on
 * request. A scan that finds a change (and only then) emits `catalogue`, marks unusable files as
 * model errors and makes the router reread its list.
 */
export class CatalogueService extends EventEmitter<CatalogueServiceEvents> {
  private readonly scanIntervalMs: number;
  private readonly deps: CatalogueServiceDeps;
  private readonly log: Logger;
  private catalogue: Catalogue | null = null;
  private signature = '';
  private ids = new Set<string>();
  private cancelWatch: (() => void) | null = null;

  constructor(options: { scanIntervalMs: number }, deps: CatalogueServiceDeps) {
    super();
    this.scanIntervalMs = options.scanIntervalMs;
    this.deps = deps;
    this.log = deps.logger.child({ module: 'catalogue' });
  }

  /** The last scan; null before the first. */
  get current(): Catalogue | null {
    return this.catalogue;
  }

  /** The ids of the last scan; null before the first. */
  get modelIds(): ReadonlySet<string> | null {
    return this.catalogue === null ? null : this.ids;
  }

  has(modelId: string): boolean {
    return this.ids.has(modelId);
  }

  /** Scans once, then every `scanIntervalMs` until `close()`. */
  async watch(): Promise<void> {
    await this.rescan();
    this.cancelWatch?.();
    this.cancelWatch = this.deps.clock.every(this.scanIntervalMs, () => {
      this.rescan().catch((err: unknown) => this.log.warn('scan failed', { error: String(err) }));
    });
  }

  /**
   * Rescans the models directory; on a change, tells the router to reload its list. The first scan
   * hands its entries out as they are read (`entries`), so a directory of thousands fills in.
   */
  async rescan(): Promise<Catalogue> {
    const first = this.catalogue === null;
    const catalogue = await this.deps.scanner.scan(first ? (entries) => this.emit('entries', entries) : undefined);
    const signature = catalogueSignature(catalogue);
    const changed = signature !== this.signature;
    this.catalogue = catalogue;
    this.signature = signature;
    this.ids = new Set(catalogue.entries.map((e) => e.id));
    this.deps.output.knowModels('catalogue', [...this.ids]);
    if (changed) {
      this.deps.models.setInvalid(new Map(catalogue.entries.filter((e) => !e.valid).map((e) => [e.id, e.invalidReason ?? 'invalid GGUF'])));
      this.emit('catalogue', catalogue);
      await this.deps.router.reload();
    }
    return catalogue;
  }

  close(): void {
    this.cancelWatch?.();
    this.cancelWatch = null;
  }
}
