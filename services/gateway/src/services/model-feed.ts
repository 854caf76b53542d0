import { modelKeyString, type BroadcastData, type ModelKey, type ModelView, type SkippedFile } from '@llamaproxy/shared';

/** What the feed reads: the stored model views and skipped files (DashboardState). */
export interface ModelFeedSource {
  modelViews(): ModelView[];
  skippedFiles(): SkippedFile[];
}

/** Where the feed sends its deltas (Broadcaster). */
export interface ModelFeedSink {
  broadcast(event: 'models:changed', data: BroadcastData['models:changed']): Promise<void>;
}

/** A view without its live state: state changes travel as `models:status`, not through the feed. */
function fingerprint(view: ModelView): string {
  const { state: _state, ...rest } = view;
  return JSON.stringify(rest);
}

/**
 * Turns "the model list may have changed" (a catalogue, a node's model list, a settings change)
 * into one `models:changed` broadcast of what did: the views added or changed, and the keys
 * removed, against what this gateway last published (or found at start). Clients then never get
 * the whole list again after their first pages.
 *
 * The comparison is per replica: with several gateways, a replica may re-send a view another one
 * sent already (harmless: an upsert is idempotent), and misses the removal of a model that was
 * added after it started and removed before it published anything (the client keeps that row
 * until its next reconnect, which reads the list afresh).
 */
export class ModelFeed {
  private readonly source: ModelFeedSource;
  private readonly sink: ModelFeedSink;
  /** Key → fingerprint of what clients were last told. */
  private published = new Map<string, { key: ModelKey; print: string }>();

  constructor(source: ModelFeedSource, sink: ModelFeedSink) {
    this.source = source;
    this.sink = sink;
    this.published = this.read().prints;
  }

  /**
   * Compares the stored views with the last published ones and broadcasts the difference (nothing
   * when there is none and `skipped` is not asked for). Cost: one read of every model's view,
   * which happens on catalogue and settings changes only, never per state change.
   */
  async publish(options: { skipped?: boolean } = {}): Promise<BroadcastData['models:changed'] | null> {
    const { views, prints } = this.read();
    const upserted: ModelView[] = [];
    for (const view of views) {
      const key = modelKeyString(view);
      if (this.published.get(key)?.print !== prints.get(key)?.print) {
        upserted.push(view);
      }
    }
    const removed: ModelKey[] = [];
    for (const [key, entry] of this.published) {
      if (!prints.has(key)) {
        removed.push(entry.key);
      }
    }
    this.published = prints;
    if (upserted.length === 0 && removed.length === 0 && options.skipped !== true) {
      return null;
    }
    const data: BroadcastData['models:changed'] = options.skipped === true ? { upserted, removed, skipped: this.source.skippedFiles() } : { upserted, removed };
    await this.sink.broadcast('models:changed', data);
    return data;
  }

  private read(): { views: ModelView[]; prints: Map<string, { key: ModelKey; print: string }> } {
    const views = this.source.modelViews();
    const prints = new Map<string, { key: ModelKey; print: string }>();
    for (const view of views) {
      prints.set(modelKeyString(view), { key: { nodeId: view.nodeId, id: view.id }, print: fingerprint(view) });
    }
    return { views, prints };
  }
}
