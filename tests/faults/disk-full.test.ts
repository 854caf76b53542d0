import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ErrorCode, RedisKeys } from '@llamaproxy/shared';
import { expectError, expectOk, waitFor } from '@llamaproxy/tests/harness';
import { FaultStack } from './support/stack.js';

/** The gateway's data volume: small, so that filling it is quick. */
const VOLUME_SIZE = '24m';

/**
 * Mounts a tmpfs of `size` at a new folder. Null (with the reason) where mounting is not
 * permitted (not root, no CAP_SYS_ADMIN, a container without it).
 */
function mountTmpfs(size: string): { dir: string } | { reason: string } {
  const dir = mkdtempSync(join(tmpdir(), 'llamaproxy-fault-diskfull-vol-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return { reason: stderr !== undefined && stderr.length > 0 ? stderr : (err as Error).message };
  }
}

/** Writes zeros to `path` until the volume refuses with ENOSPC; returns the bytes written. */
function fillVolume(path: string): number {
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
            break;
          }
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

// Tried once when the file loads, so that `skipIf` can name the reason in the report.
const volume = mountTmpfs(VOLUME_SIZE);
const skipReason = 'reason' in volume ? `cannot mount a tmpfs for the gateway's DATA_DIR (needs root / CAP_SYS_ADMIN): ${volume.reason}` : null;
if (skipReason !== null) {
  console.warn(`disk-full fault test skipped: ${skipReason}`);
}

/**
 * The gateway's data volume full (a tmpfs as DATA_DIR, filled by a file while the stack runs):
 * a write a client asks for fails as DATABASE_ERROR saying the disk is full, logged once; what the
 * supervisor reports meanwhile stays pending in Redis; nothing in the database is damaged; and once
 * the file is deleted the gateway stores the pending entries by itself (well before the 30 s
 * claim of abandoned entries) and takes writes again.
 */
describe.skipIf(skipReason !== null)('fault: the gateway data volume is full', () => {
  let stack: FaultStack;
  let redis: Redis;
  const dir = 'dir' in volume ? volume.dir : '';
  const filler = join(dir, 'filler');

  beforeAll(async () => {
    stack = await FaultStack.start({ name: 'disk-full', llamaServerBin: inject('llamaServerBin'), gatewayDataDir: dir });
    redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 2 });
  });

  afterAll(async () => {
    redis?.disconnect();
    await stack?.dispose();
    if (dir !== '') {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('fails writes with DATABASE_ERROR, keeps reports pending, and stores them again once there is space', async () => {
    const client = await stack.connect();
    const snapshot = await client.waitForBroadcast('snapshot');
    const lastLogId = Math.max(snapshot.data.cursors.logId, 0);
    let revision = expectOk(await client.request('settings:get', {})).revision;
    revision = expectOk(await client.request('settings:update', { settings: { theme: 'dark' }, revision })).revision;

    expect(fillVolume(filler)).toBeGreaterThan(0);

    // A write the client asks for: SQLite appends to a WAL that may still have room in pages it
    // already owns, so the first few may succeed; within a few the disk runs out.
    const themes = ['light', 'dark'] as const;
    let failures = 0;
    let attempts = 0;
    await stack.diagnose(() =>
      waitFor(
        async () => {
          const response = await client.request('settings:update', { settings: { theme: themes[attempts++ % 2]! }, revision });
          if (response.success) {
            revision = response.data.revision;
            return false;
          }
          expectError(response, ErrorCode.DATABASE_ERROR);
          expect(response.error.message).toBe('the database could not be written: disk full');
          failures++;
          return failures >= 3;
        },
        { timeoutMs: 20_000, intervalMs: 50, what: 'three settings writes to fail as DATABASE_ERROR' },
      ),
    );
    // One log line for the condition, not one per failed request.
    const conditionLines = (): string[] => stack.gateway.lines.filter((l) => l.includes('database write failed'));
    expect(conditionLines()).toHaveLength(1);
    expect(conditionLines()[0]).toContain('SQLITE_FULL');

    // The supervisor keeps reporting: a model loaded behind the gateway's back (straight at the
    // router) gives status events and llama-server log lines, which the gateway cannot store.
    const load = await fetch(`${stack.llamaUrl}/models/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-llama-a' }) });
    expect(load.ok, `router load answered ${load.status}`).toBe(true);
    await stack.diagnose(() => waitFor(() => stack.modelStates('tiny-llama-a').some((m) => m.status === 'loaded'), { timeoutMs: 30_000, what: 'the supervisor to report tiny-llama-a loaded' }));
    // Not stored = not acknowledged: pending in the group (read, failed) or not yet read at all.
    const unstored = async (stream: string): Promise<number> => {
      const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
      const group = groups.map((g) => Object.fromEntries(Array.from({ length: g.length / 2 }, (_, i) => [String(g[2 * i]), g[2 * i + 1]]))).find((g) => g.name === RedisKeys.gatewayGroup);
      if (group === undefined) {
        return 0;
      }
      const unread = await redis.xrange(stream, `(${String(group['last-delivered-id'])}`, '+');
      return Number(group.pending) + unread.length;
    };
    await stack.diagnose(() =>
      waitFor(async () => (await unstored(RedisKeys.statusStream)) > 0 && (await unstored(RedisKeys.logStream)) > 0, {
        timeoutMs: 10_000,
        what: 'status and log entries not acknowledged (not stored)',
      }),
    );
    expect(client.broadcasts('models:status').some((e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded')).toBe(false);
    // Still one line: the ingest retries hit the same condition.
    expect(conditionLines()).toHaveLength(1);

    // Space returns. The pending entries are stored and broadcast promptly: the deadline is half
    // of the 30 s after which abandoned entries would be claimed, so this fails if only the claim
    // brings them back.
    unlinkSync(filler);
    const freedAt = Date.now();
    await stack.diagnose(async () => {
      await client.waitForBroadcast('models:status', (e) => e.data.model.id === 'tiny-llama-a' && e.data.model.status === 'loaded', { timeoutMs: 15_000 });
      await stack.gateway.waitForLine(/database writes work again/, 15_000 - (Date.now() - freedAt));
      await waitFor(async () => (await unstored(RedisKeys.statusStream)) === 0 && (await unstored(RedisKeys.logStream)) === 0, { timeoutMs: 10_000, what: 'nothing left unstored' });
    });
    const liveLogs = client.broadcasts('logs:entry').flatMap((e) => e.data.entries);
    expect(liveLogs.some((e) => e.source === 'llama-server' && e.modelId === 'tiny-llama-a')).toBe(true);

    // A setting saved after recovery is stored.
    const saved = expectOk(await client.request('settings:update', { settings: { theme: 'light' }, revision }));

    // Nothing is damaged, the loaded model is stored, and the redelivered lines keep their order:
    // within one source of the node, ids (storage order) follow the supervisor's timestamps.
    await stack.gateway.stop();
    const db = stack.openDb();
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      const model = db.prepare('SELECT state FROM models WHERE node_id = ? AND id = ?').get(stack.nodeId, 'tiny-llama-a') as { state: string } | undefined;
      expect(model === undefined ? null : (JSON.parse(model.state) as { status: string }).status).toBe('loaded');
      for (const source of ['llama-server', 'supervisor']) {
        const ts = (db.prepare('SELECT ts FROM logs WHERE id > ? AND source = ? ORDER BY id').all(lastLogId, source) as { ts: number }[]).map((r) => r.ts);
        expect(ts, `${source} lines in storage order`).toEqual([...ts].sort((a, b) => a - b));
      }
    } finally {
      db.close();
    }

    // ... and it is there after a restart.
    stack.startGateway();
    await stack.diagnose(() => stack.waitGatewayReady());
    const back = await stack.connect();
    expect(expectOk(await back.request('settings:get', {}))).toMatchObject({ revision: saved.revision, settings: { theme: 'light' } });
  }, 90_000);
});
