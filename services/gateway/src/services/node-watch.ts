import { NODE_OFFLINE_AFTER_MS } from '@llamaproxy/shared';
import type { StateRepository } from '../repositories/state.repository.js';
import type { Broadcaster } from './broadcaster.js';

/**
 * Marks a supervisor node offline when nothing was heard from it for NODE_OFFLINE_AFTER_MS (it
 * republishes its state every STATUS_REPUBLISH_MS), and tells every client once, whichever
 * replica notices first. Hearing from it again brings it back (see IngestService).
 */
export class NodeWatch {
  private readonly deps: { state: StateRepository; broadcaster: Broadcaster; offlineAfterMs: number };

  constructor(deps: { state: StateRepository; broadcaster: Broadcaster; offlineAfterMs?: number }) {
    this.deps = { offlineAfterMs: NODE_OFFLINE_AFTER_MS, ...deps };
  }

  /** Marks stale nodes offline; returns their ids. */
  async check(now = Date.now()): Promise<string[]> {
    const { state, broadcaster, offlineAfterMs } = this.deps;
    const gone = state.markNodesOffline(now - offlineAfterMs);
    for (const nodeId of gone) {
      const node = state.nodes().find((n) => n.nodeId === nodeId);
      await broadcaster.broadcast('nodes:status', { node: { nodeId, online: false, lastHeardAt: node?.lastHeardAt ?? null } });
    }
    return gone;
  }
}
