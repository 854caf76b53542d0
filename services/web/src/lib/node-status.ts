/**
 * Whether a supervisor node is heard from, in words. The gateway marks a node offline when nothing
 * came from it for a while (snapshot `nodes`, `nodes:status`); what the dashboard shows of it is
 * then stale, so the llama card and the app shell say so and since when.
 */
import type { NodeView } from '@llamaproxy/shared';
import { formatClock, formatDateTime, formatDuration } from './format.js';

/** The nodes shown as offline, in node id order. */
export function offlineNodes(nodes: readonly NodeView[]): NodeView[] {
  return nodes.filter((n) => !n.online).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

/** The view of `nodeId`, null when the gateway has not listed it (a node it never heard from is not offline). */
export function nodeOf(nodes: readonly NodeView[], nodeId: string): NodeView | null {
  return nodes.find((n) => n.nodeId === nodeId) ?? null;
}

/** Within a day the clock time says enough; older, the date too. */
const SAME_DAY_MS = 86_400_000;

/**
 * "offline since 14:03:07 (5m 12s ago)" for an offline node, null for an online one. `now` is
 * the browser's clock; a last-heard time ahead of it (clock skew) reads as "0s ago".
 */
export function offlineSince(node: NodeView, now: number): string | null {
  if (node.online) {
    return null;
  }
  if (node.lastHeardAt === null) {
    return 'offline, never heard from';
  }
  const ago = Math.max(0, now - node.lastHeardAt);
  const at = ago < SAME_DAY_MS ? formatClock(node.lastHeardAt) : formatDateTime(node.lastHeardAt);
  return `offline since ${at} (${formatDuration(ago / 1000)} ago)`;
}

/**
 * The app shell's banner: null when every node is heard from; else which nodes are offline and
 * since when, and that what is shown of them is their last report.
 */
export function offlineBanner(nodes: readonly NodeView[], now: number): string | null {
  const offline = offlineNodes(nodes);
  if (offline.length === 0) {
    return null;
  }
  const each = offline.map((n) => `${n.nodeId} ${offlineSince(n, now) ?? ''}`.trim()).join('; ');
  return `${offline.length === 1 ? 'Supervisor node' : 'Supervisor nodes'} ${each}. What is shown of ${offline.length === 1 ? 'it' : 'them'} is the last report.`;
}
