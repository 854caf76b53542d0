import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG, RedisKeys, type BroadcastData, type BroadcastEvent, type MemoryReport } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { openDatabase, type Db } from '../db/database.js';
import { LogRepository } from '../repositories/log.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { ModelRepository } from '../repositories/model.repository.js';
import { StateRepository } from '../repositories/state.repository.js';
import type { Broadcaster } from './broadcaster.js';
import { DashboardState } from './dashboard-state.js';
import { IngestService } from './ingest.service.js';
import { MemoryReports } from './memory-reports.js';
import { ModelFeed } from './model-feed.js';

let dir: string;
let db: Db;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llamaproxy-memory-ingest-'));
  db = openDatabase(join(dir, 'test.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function report(nodeId: string, sentAt: number, usedMiB: number): MemoryReport {
  const used = usedMiB * 1024 * 1024;
  return {
    nodeId,
    mode: 'memory',
    sentAt,
    devices: [{ id: 'cpu', kind: 'ram', name: 'RAM', totalBytes: 2 * used + 1, reserveBytes: 0, budgetBytes: 2 * used + 1, usedBytes: used, freeBytes: used + 1 }],
    models: [],
    footprints: [],
  };
}

describe(`${IngestService.name} with memory reports`, () => {
  const build = () => {
    const sent: { event: BroadcastEvent; data: unknown }[] = [];
    const broadcaster = { broadcast: async (event: BroadcastEvent, data: BroadcastData[BroadcastEvent]) => void sent.push({ event, data }) } as unknown as Broadcaster;
    const state = new StateRepository(db);
    const models = new ModelRepository(db);
    const memory = new MemoryReports(state);
    const dashboard = new DashboardState(state, models, DEFAULT_SERVER_CONFIG);
    const sut = new IngestService({
      db,
      models,
      logs: new LogRepository(db),
      metrics: new MetricsRepository(db),
      state,
      dashboard,
      broadcaster,
      feed: new ModelFeed(dashboard, broadcaster),
      logger: createLogger({ service: 'test', level: 'error' }),
      memory,
    });
    let id = 0;
    const entries = (...reports: MemoryReport[]) =>
      reports.map((r) => ({ stream: RedisKeys.statusStream, id: `${Date.now()}-${id++}`, payload: { kind: 'memory', nodeId: r.nodeId, report: r } }));
    const memoryBroadcasts = () => sent.filter((s) => s.event === 'memory:update').map((s) => (s.data as { report: MemoryReport }).report);
    return { sut, memory, entries, memoryBroadcasts };
  };

  it('stores each node\'s newest report and broadcasts only the newest of a batch, per node', async () => {
    const { sut, memory, entries, memoryBroadcasts } = build();
    await sut.handle(entries(report('a', 1, 10), report('b', 1, 5), report('a', 2, 20), report('a', 3, 30)));
    expect(memoryBroadcasts()).toEqual([report('b', 1, 5), report('a', 3, 30)]);
    expect(memory.all()).toEqual([report('a', 3, 30), report('b', 1, 5)]);
  });

  it('does not broadcast a heartbeat that repeats the stored report', async () => {
    const { sut, entries, memoryBroadcasts } = build();
    await sut.handle(entries(report('a', 1, 10)));
    await sut.handle(entries(report('a', 2, 10)));
    await sut.handle(entries(report('a', 3, 11)));
    expect(memoryBroadcasts().map((r) => r.sentAt)).toEqual([1, 3]);
  });
});
