import type { NodeView } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { formatClock, formatDateTime } from './format.js';
import { nodeOf, offlineBanner, offlineNodes, offlineSince } from './node-status.js';

const now = new Date(2026, 0, 31, 14, 10, 0).getTime();
const node = (nodeId: string, online: boolean, lastHeardAt: number | null): NodeView => ({ nodeId, online, lastHeardAt });

describe(offlineSince.name, () => {
  it.each([
    ['an online node', node('a', true, now - 5 * 60_000), null],
    ['a node never heard from', node('a', false, null), 'offline, never heard from'],
    ['a node silent for 5 minutes', node('a', false, now - 312_000), `offline since ${formatClock(now - 312_000)} (5m 12s ago)`],
    ['a node silent for two days (date shown)', node('a', false, now - 2 * 86_400_000), `offline since ${formatDateTime(now - 2 * 86_400_000)} (2d 0h ago)`],
    ['a last-heard time ahead of the browser clock', node('a', false, now + 3000), `offline since ${formatClock(now + 3000)} (0s ago)`],
  ])('%s', (_what, view, expected) => {
    expect(offlineSince(view, now)).toBe(expected);
  });
});

describe(offlineNodes.name, () => {
  it('lists only the offline nodes, by id', () => {
    const nodes = [node('b', false, 1), node('c', true, 1), node('a', false, 2)];
    expect(offlineNodes(nodes).map((n) => n.nodeId)).toEqual(['a', 'b']);
  });
});

describe(nodeOf.name, () => {
  it('finds a node by id, null for one the gateway never listed', () => {
    const nodes = [node('a', false, 1)];
    expect(nodeOf(nodes, 'a')).toEqual(node('a', false, 1));
    expect(nodeOf(nodes, 'b')).toBeNull();
  });
});

describe(offlineBanner.name, () => {
  it('says nothing while every node is heard from', () => {
    expect(offlineBanner([node('a', true, now)], now)).toBeNull();
    expect(offlineBanner([], now)).toBeNull();
  });

  it('names one offline node and since when', () => {
    const at = now - 60_000;
    expect(offlineBanner([node('gpu-box', false, at), node('other', true, now)], now)).toBe(
      `Supervisor node gpu-box offline since ${formatClock(at)} (1m 0s ago). What is shown of it is the last report.`,
    );
  });

  it('names every offline node', () => {
    expect(offlineBanner([node('b', false, null), node('a', false, now - 10_000)], now)).toBe(
      `Supervisor nodes a offline since ${formatClock(now - 10_000)} (10s ago); b offline, never heard from. What is shown of them is the last report.`,
    );
  });
});
