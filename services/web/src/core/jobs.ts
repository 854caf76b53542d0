/**
 * Following control jobs. A request such as `models:load` or `config:update` answers with a
 * JobRef; `jobs:progress` broadcasts then report on it. Job ids are deterministic (the same intent
 * reuses the id), so only progress received after the request was sent counts.
 */
import type { JobRef } from '@llamaproxy/shared';
import type { StateManager } from './state-manager.js';
import type { JobState } from './state.js';
import { RequestError } from './transport.js';

export interface FollowOptions {
  onProgress?: (state: JobState) => void;
  /** Gives up after this long (a broadcast may be lost while offline). */
  timeoutMs?: number;
}

export function followJob(store: StateManager, job: JobRef, sentAt: number, options: FollowOptions = {}): Promise<JobState> {
  return new Promise((resolve, reject) => {
    let unsubscribe: () => void = () => {};
    const timer = setTimeout(() => {
      finish();
      reject(new RequestError({ code: 'TIMEOUT', message: 'No news from the job; check the logs' }));
    }, options.timeoutMs ?? 10 * 60_000);
    const finish = (): void => {
      clearTimeout(timer);
      unsubscribe();
    };
    let done = false;
    unsubscribe = store.subscribe(
      'jobs',
      (jobs) => {
        const state = jobs[job.jobId];
        if (done || state === undefined || state.receivedAt < sentAt) {
          return;
        }
        options.onProgress?.(state);
        if (state.state === 'completed') {
          done = true;
          finish();
          resolve(state);
        } else if (state.state === 'failed') {
          done = true;
          finish();
          reject(new RequestError(state.error ?? { code: 'JOB_FAILED', message: 'The job failed' }));
        }
      },
      true,
    );
    if (done) {
      unsubscribe();
    }
  });
}
