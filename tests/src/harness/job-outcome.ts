/** Waiting for a BullMQ job's end through QueueEvents, as the gateway's job service does. */
import type { QueueEvents } from 'bullmq';

/**
 * Resolves with the parsed `returnvalue` when job `jobId` completes, rejects with its
 * `failedReason` when it fails, or after `timeoutMs` (default 90 s). Listen before adding the job,
 * so that a fast job's event is not missed.
 */
export function jobOutcome(events: Pick<QueueEvents, 'on' | 'off'>, jobId: string, timeoutMs = 90_000): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error(`job ${jobId} did not finish`))), timeoutMs);
    const onCompleted = (e: { jobId: string; returnvalue: unknown }): void => {
      if (e.jobId === jobId) {
        finish(() => resolve(typeof e.returnvalue === 'string' ? JSON.parse(e.returnvalue) : e.returnvalue));
      }
    };
    const onFailed = (e: { jobId: string; failedReason: string }): void => {
      if (e.jobId === jobId) {
        finish(() => reject(new Error(e.failedReason)));
      }
    };
    const finish = (settle: () => void): void => {
      clearTimeout(timer);
      events.off('completed', onCompleted);
      events.off('failed', onFailed);
      settle();
    };
    events.on('completed', onCompleted);
    events.on('failed', onFailed);
  });
}
