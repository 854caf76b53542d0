import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Shown in the timeout error: what we were waiting for. */
  what?: string;
}

/**
 * Polls `fn` until it returns a value other than undefined/false, or throws after a real
 * deadline with the last error it saw. Never sleep-and-hope in a test: wait for a predicate.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, options: WaitOptions = {}): Promise<Exclude<T, false | undefined>> {
  const { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) {
        return value as Exclude<T, false | undefined>;
      }
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}
