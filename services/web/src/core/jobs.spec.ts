import type { JobRef } from '@llamaproxy/shared';
import { describe, expect, it, vi } from 'vitest';
import { FakeTransport } from '../test-support/fake-transport.js';
import { followJob } from './jobs.js';
import { StateManager } from './state-manager.js';

const job: JobRef = { jobId: 'model.load-q', name: 'model.load', subject: 'q', nodeId: 'n', created: true };

function setup(now: { value: number }) {
  const transport = new FakeTransport();
  const store = new StateManager(transport, { now: () => now.value });
  store.start();
  const progress = (state: 'active' | 'progress' | 'completed' | 'failed', value: number | null = null) =>
    transport.push(
      'jobs:progress',
      {
        job,
        state,
        progress: value === null ? null : { value, stage: 'loading', message: null },
        error: state === 'failed' ? { code: 'MODEL_LOAD_FAILED', message: 'out of memory' } : null,
      },
      1,
    );
  return { store, progress };
}

describe(followJob.name, () => {
  it('reports progress and resolves when the job completes', async () => {
    const now = { value: 1000 };
    const { store, progress } = setup(now);
    const onProgress = vi.fn();
    const done = followJob(store, job, 1000, { onProgress });
    progress('progress', 0.5);
    progress('completed');
    await expect(done).resolves.toMatchObject({ state: 'completed' });
    expect(onProgress.mock.calls.map(([s]) => (s as { state: string }).state)).toEqual(['progress', 'completed']);
  });

  it('rejects with the job error when it fails', async () => {
    const now = { value: 1000 };
    const { store, progress } = setup(now);
    const done = followJob(store, job, 1000);
    progress('failed');
    await expect(done).rejects.toMatchObject({ code: 'MODEL_LOAD_FAILED', message: 'out of memory' });
  });

  it('ignores what an earlier job with the same id reported', async () => {
    const now = { value: 500 };
    const { store, progress } = setup(now);
    progress('completed');
    now.value = 2000;
    let settled = false;
    const done = followJob(store, job, 1000).finally(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    progress('completed');
    await expect(done).resolves.toMatchObject({ receivedAt: 2000 });
  });
});
