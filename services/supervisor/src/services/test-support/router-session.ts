import { readFileSync } from 'node:fs';
import type { RouterEvent, RouterModel } from '../../repositories/router-client.js';

/**
 * The session recorded from the real router in `__fixtures__/router-session/` (see
 * model-states.spec.ts): `tiny` loaded, unloaded (exit 0), loaded, its instance SIGKILLed (exit 1);
 * then the truncated `broken` failing to load.
 */
const fixture = (name: string): string => readFileSync(new URL(`../__fixtures__/router-session/${name}`, import.meta.url), 'utf8');

export const SESSION_EVENTS: RouterEvent[] = fixture('sse.txt')
  .split('\n')
  .filter((l) => l.startsWith('data: '))
  .map((l) => JSON.parse(l.slice(6)) as RouterEvent);

/** `GET /models` after each step. */
export const SESSION_SNAPSHOTS: RouterModel[][] = fixture('models.jsonl')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as RouterModel[]);

/** [0, 5) first load and unload, [5, 10) load and crash, [10, 13) failed load. */
export const FIRST_RUN = SESSION_EVENTS.slice(0, 5);
export const CRASH_RUN = SESSION_EVENTS.slice(5, 10);
export const FAILED_LOAD = SESSION_EVENTS.slice(10, 13);

export function snapshot(index: number): RouterModel[] {
  const models = SESSION_SNAPSHOTS[index];
  if (models === undefined) {
    throw new Error(`no snapshot ${index} in the recorded session`);
  }
  return models;
}
