import type { Queue } from 'bullmq';
import { AppError, ErrorCode } from '@llamaproxy/shared';

/**
 * Checks, before a job is queued, that a supervisor consumes `queue` (one BullMQ `getWorkers` call).
 * `noWorker` is the message when none does. Throws QUEUE_UNAVAILABLE when Redis cannot be asked,
 * SUPERVISOR_UNAVAILABLE when no worker is connected.
 */
export async function requireWorkers(queue: Pick<Queue, 'getWorkers'>, noWorker: string): Promise<void> {
  let workers: number;
  try {
    workers = (await queue.getWorkers()).length;
  } catch (err) {
    throw new AppError(ErrorCode.QUEUE_UNAVAILABLE, 'the job queue (Redis) is unavailable', { cause: err });
  }
  if (workers === 0) {
    throw new AppError(ErrorCode.SUPERVISOR_UNAVAILABLE, noWorker);
  }
}
