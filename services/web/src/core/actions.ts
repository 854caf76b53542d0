import type { JobRef } from '@llamaproxy/shared';
import type { AppContext } from './context.js';
import { followJob } from './jobs.js';
import type { JobState } from './state.js';
import { errorMessage } from './transport.js';

/**
 * Sends a request that answers with a job, follows the job to its end and reports the outcome
 * in a toast. Resolves true on success; never rejects.
 */
export async function runJob(
  ctx: AppContext,
  label: string,
  send: () => Promise<{ job: JobRef }>,
  onProgress?: (state: JobState) => void,
): Promise<boolean> {
  const sentAt = Date.now();
  try {
    const { job } = await send();
    await followJob(ctx.store, job, sentAt, { onProgress });
    ctx.toasts.success(`${label}: done`);
    return true;
  } catch (error) {
    ctx.toasts.error(`${label}: ${errorMessage(error)}`);
    return false;
  }
}

/** Sends a request and shows its failure in a toast. Resolves with the data, or null on failure. */
export async function attempt<T>(ctx: AppContext, label: string, send: () => Promise<T>): Promise<T | null> {
  try {
    return await send();
  } catch (error) {
    ctx.toasts.error(`${label}: ${errorMessage(error)}`);
    return null;
  }
}
