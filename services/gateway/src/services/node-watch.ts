import { NODE_OFFLINE_AFTER_MS } from '@llamaproxy/shared';
import type { StateRepository } from '../repositories/state.repository.js';
import type { Broadcaster } from './broadcaster.js';

export interface NodeWatchDeps {
  state: StateRepository;
  broadcaster: Broadcaster;
  offlineAfterMs?: number;
  /** Which nodes' supervisors hold their presence key now (see NodeRedisKeys.presence). */
  presence?: (nodeIds: readonly string[]) => Promise<Map<string, boolean>>;
}

/**
 * Marks a supervisor node offline (its models and status stale) and tells every client once,
 * whichever replica notices first:
 * - `checkPresence` (every second): at once when its supervisor's presence key is gone (killed,
 *   crashed, stopped: the key expires PRESENCE_TTL_MS after the last refresh). Only for nodes whose
 *   key this replica has seen, so a supervisor without one is judged by its reports alone;
 * - `check`: when nothing was heard from it for NODE_OFFLINE_AFTER_MS (it sends a heartbeat every
 *   STATUS_REPUBLISH_MS): a hung supervisor, or a lost Redis link.
 * Hearing from it again brings it back (see IngestService).
 */
export class NodeWatch {
  private readonly deps: Required<Omit<NodeWatchDeps, 'presence'>> & Pick<NodeWatchDeps, 'presence'>;
  /** Nodes whose presence key was seen: only those are marked gone when it is missing. */
  private readonly seen = new Set<string>();

  constructor(deps: NodeWatchDeps) {
    this.deps = { offlineAfterMs: NODE_OFFLINE_AFTER_MS, ...deps };
  }

  /** Marks nodes not heard from for `offlineAfterMs` offline; returns their ids. */
  async check(now = Date.now()): Promise<string[]> {
    const { state, offlineAfterMs } = this.deps;
    const gone = state.markNodesOffline(now - offlineAfterMs);
    await this.announce(gone);
    return gone;
  }

  /** Marks online nodes whose supervisor's presence key is gone offline; returns their ids. */
  async checkPresence(): Promise<string[]> {
    const { state, presence } = this.deps;
    if (presence === undefined) {
      return [];
    }
    const online = state.nodes().filter((n) => n.online).map((n) => n.nodeId);
    const present = await presence(online);
    const gone: string[] = [];
    for (const nodeId of online) {
      if (present.get(nodeId) === true) {
        this.seen.add(nodeId);
      } else if (this.seen.has(nodeId) && state.markNodeOffline(nodeId)) {
        gone.push(nodeId);
      }
    }
    await this.announce(gone);
    return gone;
  }

  private async announce(nodeIds: string[]): Promise<void> {
    for (const nodeId of nodeIds) {
      const node = this.deps.state.nodes().find((n) => n.nodeId === nodeId);
      await this.deps.broadcaster.broadcast('nodes:status', { node: { nodeId, online: false, stale: true, lastHeardAt: node?.lastHeardAt ?? null } });
    }
  }
}
