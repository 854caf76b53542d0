import { MemoryReportSchema, type MemoryReport, type PlacementMode } from '@llamaproxy/shared';
import type { StateRepository } from '../repositories/state.repository.js';

const KEY_PREFIX = 'memory:';

/** How long a replica reuses a node's placement mode before reading it again (ms). */
const MODE_CACHE_MS = 2000;

/**
 * The newest memory report of each supervisor node (placement, issue #14), kept in SQLite so
 * every replica's snapshot has it, whichever replica ingested it. A report that differs from the
 * stored one only in `sentAt` (a heartbeat) changes nothing and is not broadcast again.
 */
export class MemoryReports {
  private readonly state: Pick<StateRepository, 'getMeta' | 'setMeta' | 'metaKeys'>;
  private readonly now: () => number;
  private readonly modes = new Map<string, { at: number; mode: PlacementMode | null }>();

  constructor(state: Pick<StateRepository, 'getMeta' | 'setMeta' | 'metaKeys'>, now: () => number = Date.now) {
    this.state = state;
    this.now = now;
  }

  /** Stores `report` as its node's newest (an older one is ignored). True when that changed what clients see. */
  store(report: MemoryReport): boolean {
    const key = KEY_PREFIX + report.nodeId;
    const before = this.state.getMeta(key, MemoryReportSchema);
    if (before !== null && before.sentAt > report.sentAt) {
      return false;
    }
    this.state.setMeta(key, report);
    this.modes.set(report.nodeId, { at: this.now(), mode: report.mode });
    return before === null || JSON.stringify({ ...before, sentAt: 0 }) !== JSON.stringify({ ...report, sentAt: 0 });
  }

  /** Every node's newest report, by node id. */
  all(): MemoryReport[] {
    return this.state
      .metaKeys(KEY_PREFIX)
      .map((key) => this.state.getMeta(key, MemoryReportSchema))
      .filter((r): r is MemoryReport => r !== null);
  }

  /** The placement mode `nodeId` last reported; null before its first report (a supervisor without placement). */
  mode(nodeId: string): PlacementMode | null {
    const cached = this.modes.get(nodeId);
    if (cached !== undefined && this.now() - cached.at < MODE_CACHE_MS) {
      return cached.mode;
    }
    const mode = this.state.getMeta(KEY_PREFIX + nodeId, MemoryReportSchema)?.mode ?? null;
    this.modes.set(nodeId, { at: this.now(), mode });
    return mode;
  }
}
