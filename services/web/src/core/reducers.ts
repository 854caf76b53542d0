/**
 * Pure functions that turn snapshots and broadcasts into state changes. Each returns only the
 * keys that changed, so the StateManager notifies exactly their subscribers.
 */
import type { ConnectionIdentity, DocumentRevisions, LlamaStatus, LogEntry, MemoryReport, MetricsSample, ModelState, ModelView, NodeView, Snapshot } from '@llamaproxy/shared';
import type { AnyBroadcast } from './transport.js';
import type { AppState, JobState } from './state.js';
import { LIMITS } from './state.js';
import { applyModelChanges } from './model-merge.js';

export type StatePatch = Partial<AppState>;

/**
 * Adds log entries to a list ordered by id, without duplicates, keeping the newest `cap`.
 * When the incoming entries start after a gap, the old ones are dropped: the list must stay a
 * continuous tail (older entries are fetched on demand with `logs:query`).
 */
export function mergeLogs(existing: readonly LogEntry[], incoming: readonly LogEntry[], cap: number = LIMITS.logs): LogEntry[] {
  if (incoming.length === 0) {
    return existing.slice(-cap);
  }
  const sorted = [...incoming].sort((a, b) => a.id - b.id);
  const last = existing.at(-1);
  const first = sorted[0];
  if (last === undefined || (first !== undefined && first.id > last.id + 1)) {
    return sorted.slice(-cap);
  }
  const byId = new Map<number, LogEntry>();
  for (const entry of existing) {
    byId.set(entry.id, entry);
  }
  for (const entry of sorted) {
    byId.set(entry.id, entry);
  }
  return [...byId.values()].sort((a, b) => a.id - b.id).slice(-cap);
}

export function appendSample(recent: readonly MetricsSample[], sample: MetricsSample, cap: number = LIMITS.recentMetrics): MetricsSample[] {
  const last = recent.at(-1);
  if (last !== undefined && last.nodeId === sample.nodeId && last.ts >= sample.ts) {
    return recent as MetricsSample[];
  }
  return [...recent, sample].slice(-cap);
}

export function upsertLlama(list: readonly LlamaStatus[], status: LlamaStatus): LlamaStatus[] {
  const others = list.filter((s) => s.nodeId !== status.nodeId);
  return [...others, status].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}

export function applyModelState(models: readonly ModelView[], nodeId: string, state: ModelState): ModelView[] {
  return models.map((m) => (m.nodeId === nodeId && m.id === state.id ? { ...m, state } : m));
}

/**
 * The list with many states of one node's models put in place (`models:states`), in one pass:
 * rows a state is given for become new objects, every other row keeps its object (views tell
 * what changed by identity), and the same array comes back when no row matched. States of
 * models not in the list are ignored (their row comes with `models:changed` or a page).
 */
export function applyModelStates(models: readonly ModelView[], nodeId: string, states: readonly ModelState[]): ModelView[] {
  if (states.length === 0) {
    return models as ModelView[];
  }
  const byId = new Map(states.map((s) => [s.id, s]));
  let changed = false;
  const next = models.map((m) => {
    const state = m.nodeId === nodeId ? byId.get(m.id) : undefined;
    if (state === undefined) {
      return m;
    }
    changed = true;
    return { ...m, state };
  });
  return changed ? next : (models as ModelView[]);
}

/** Drops jobs that finished more than `LIMITS.finishedJobMs` ago. */
export function pruneJobs(jobs: Record<string, JobState>, now: number): Record<string, JobState> {
  const kept: Record<string, JobState> = {};
  for (const [id, job] of Object.entries(jobs)) {
    const finished = job.state === 'completed' || job.state === 'failed';
    if (!finished || now - job.receivedAt < LIMITS.finishedJobMs) {
      kept[id] = job;
    }
  }
  return kept;
}

/**
 * A snapshot replaces the server-owned state. Logs are merged: on a resume the snapshot holds
 * every entry after the client's cursor, unless `logsTruncated` says the gap was too large.
 */
export function snapshotPatch(state: AppState, snapshot: Snapshot, resume: boolean): StatePatch {
  const logs = resume && snapshot.logsTruncated ? mergeLogs([], snapshot.logs) : mergeLogs(state.logs, snapshot.logs);
  const patch: StatePatch = {
    ready: true,
    identity: sameIdentity(state.identity, snapshot.identity) ? state.identity : snapshot.identity,
    // A whole list replaces ours; a first page is merged, and the StateManager reads the rest.
    models: snapshot.modelsNext === null ? snapshot.models : applyModelChanges(state.models, snapshot.models),
    llama: snapshot.llama,
    config: snapshot.config,
    settings: snapshot.settings,
    revisions: snapshot.revisions,
    nodes: snapshot.nodes,
    skipped: snapshot.skipped,
    logs,
  };
  if (snapshot.memory !== undefined) {
    patch.memory = snapshot.memory;
  }
  if (snapshot.placement !== undefined) {
    patch.placement = snapshot.placement;
  }
  if (snapshot.metrics !== null) {
    patch.metrics = snapshot.metrics;
    patch.recentMetrics = appendSample(state.recentMetrics, snapshot.metrics);
  }
  return patch;
}

/** The revisions with one document's replaced (a broadcast of that document). */
export function withRevision(revisions: DocumentRevisions | null, document: keyof DocumentRevisions, revision: number): DocumentRevisions {
  return { ...(revisions ?? { config: 0, preset: 0, settings: 0 }), [document]: revision };
}

/** The node list with one node's liveness replaced or added, by id. */
export function upsertNode(nodes: NodeView[], node: NodeView): NodeView[] {
  return nodes.some((n) => n.nodeId === node.nodeId) ? nodes.map((n) => (n.nodeId === node.nodeId ? node : n)) : [...nodes, node];
}

/** The reports with one node's replaced or added (`memory:update`), by node id; an older report is ignored. */
export function upsertMemoryReport(reports: readonly MemoryReport[], report: MemoryReport): MemoryReport[] {
  const before = reports.find((r) => r.nodeId === report.nodeId);
  if (before !== undefined && before.sentAt > report.sentAt) {
    return reports as MemoryReport[];
  }
  return [...reports.filter((r) => r.nodeId !== report.nodeId), report].sort((a, b) => a.nodeId.localeCompare(b.nodeId));
}

/** True when both say the same user with the same role (so views are not told of a change). */
export function sameIdentity(a: ConnectionIdentity | null, b: ConnectionIdentity | null): boolean {
  if (a === null || b === null) {
    return a === b;
  }
  return a.mode === b.mode && a.role === b.role && a.user?.id === b.user?.id && a.user?.username === b.user?.username && a.user?.role === b.user?.role;
}

export function broadcastPatch(state: AppState, envelope: AnyBroadcast, now: number): StatePatch {
  switch (envelope.event) {
    case 'snapshot':
      return snapshotPatch(state, envelope.data, false);
    case 'models:changed': {
      const models = applyModelChanges(state.models, envelope.data.upserted, envelope.data.removed);
      return envelope.data.skipped === undefined ? { models } : { models, skipped: envelope.data.skipped };
    }
    case 'models:status':
      return { models: applyModelState(state.models, envelope.data.nodeId, envelope.data.model) };
    case 'models:states':
      return { models: applyModelStates(state.models, envelope.data.nodeId, envelope.data.models) };
    case 'llama:status':
      return { llama: upsertLlama(state.llama, envelope.data.status) };
    case 'metrics:update':
      return {
        metrics: envelope.data.sample,
        recentMetrics: appendSample(state.recentMetrics, envelope.data.sample),
      };
    case 'logs:entry':
      return { logs: mergeLogs(state.logs, envelope.data.entries) };
    case 'logs:cleared':
      return { logs: [] };
    case 'jobs:progress': {
      const jobs = pruneJobs(state.jobs, now);
      jobs[envelope.data.job.jobId] = { ...envelope.data, receivedAt: now };
      return { jobs };
    }
    case 'config:updated':
      return { config: envelope.data.config, revisions: withRevision(state.revisions, 'config', envelope.data.revision) };
    case 'settings:updated':
      return { settings: envelope.data.settings, revisions: withRevision(state.revisions, 'settings', envelope.data.revision) };
    case 'presets:updated':
      return { preset: { preset: envelope.data.preset, ini: envelope.data.ini }, revisions: withRevision(state.revisions, 'preset', envelope.data.revision) };
    case 'nodes:status':
      return { nodes: upsertNode(state.nodes, envelope.data.node) };
    case 'alerts:firing':
      return { alertsFiring: envelope.data.firing };
    case 'alerts:delivery':
      return { alertDelivery: envelope.data.delivery };
    case 'activity:new':
      return { activityNew: envelope.data.records };
    case 'memory:update':
      return { memory: upsertMemoryReport(state.memory, envelope.data.report) };
    case 'placement:updated':
      return { placement: envelope.data };
    case 'downloads:progress':
      return { downloadUpdate: envelope.data.download };
  }
}
