import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RouterEvent, RouterModel } from '../repositories/router-client.js';
import { explainFailure, LlamaLogParser, LogTail } from './llama-log.js';
import { ModelStates } from './model-states.js';

/**
 * Recorded from the real router (the llama-server the tests build) over `tiny.gguf` and a truncated
 * `broken.gguf`: load, unload, load, SIGKILL of the instance, load of the broken model. The files
 * hold the `/models/sse` stream, the `/models` snapshot after each step and the router's output.
 */
const fixture = (name: string): string => readFileSync(new URL(`./__fixtures__/router-session/${name}`, import.meta.url), 'utf8');
const EVENTS: RouterEvent[] = fixture('sse.txt')
  .split('\n')
  .filter((l) => l.startsWith('data: '))
  .map((l) => JSON.parse(l.slice(6)) as RouterEvent);
const SNAPSHOTS: RouterModel[][] = fixture('models.jsonl')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as RouterModel[]);
const LOG = fixture('router.log').split('\n');

/** Indexes into EVENTS: [0, 5) first load and unload, [5, 10) load and crash, [10, 13) failed load. */
const FIRST_RUN = EVENTS.slice(0, 5);
const CRASH_RUN = EVENTS.slice(5, 10);
const FAILED_LOAD = EVENTS.slice(10, 13);

/** A subject explained by the model's own log lines, the way the supervisor wires it. */
function subject(): { sut: ModelStates; feedLog: () => void } {
  const parser = new LlamaLogParser();
  const tail = new LogTail(40);
  const sut = new ModelStates((modelId, exitCode) => {
    const lines = tail.modelLines(modelId);
    const reason = explainFailure(lines);
    return { message: `model instance exited with code ${exitCode ?? '?'}${reason ? `: ${reason}` : ''}`, logTail: lines.slice(-15) };
  });
  return {
    sut,
    feedLog: () => {
      for (const line of LOG) {
        tail.push(parser.parse(line));
      }
    },
  };
}

describe(ModelStates.name, () => {
  it('recorded a session with the steps the specs rely on', () => {
    expect(EVENTS.map((e) => `${e.model}:${(e.data as { status: string }).status}`)).toEqual([
      'tiny:loading', 'tiny:loading', 'tiny:loading', 'tiny:loaded', 'tiny:unloaded',
      'tiny:loading', 'tiny:loading', 'tiny:loading', 'tiny:loaded', 'tiny:unloaded',
      'broken:loading', 'broken:loading', 'broken:unloaded',
    ]);
    expect(SNAPSHOTS.at(-1)?.find((m) => m.id === 'broken')?.status).toEqual({ value: 'unloaded', exit_code: 1, failed: true });
  });

  it('ends a deliberate unload unloaded, with exit code 0 as recorded', () => {
    const { sut } = subject();
    sut.routerStarted();
    sut.reconcile(SNAPSHOTS[0]!);
    FIRST_RUN.slice(0, 4).forEach((e) => sut.applyEvent(e));
    expect(sut.get('tiny')?.status).toBe('loaded');
    sut.expectStop('tiny');
    sut.applyEvent(FIRST_RUN[4]!);
    expect(sut.get('tiny')).toMatchObject({ status: 'unloaded', error: null });
  });

  it('ends a deliberate unload unloaded when the build reports exit code 1, also in /models afterwards', () => {
    const { sut } = subject();
    sut.routerStarted();
    FIRST_RUN.slice(0, 4).forEach((e) => sut.applyEvent(e));
    sut.expectStop('tiny');
    sut.applyEvent({ ...FIRST_RUN[4]!, data: { status: 'unloaded', exit_code: 1 } });
    sut.reconcile([{ id: 'tiny', status: { value: 'unloaded', exit_code: 1, failed: true } }]);
    expect(sut.get('tiny')).toMatchObject({ status: 'unloaded', error: null });
    // The next run is judged on its own: a crash after it is an error again.
    CRASH_RUN.forEach((e) => sut.applyEvent(e));
    expect(sut.get('tiny')?.status).toBe('error');
  });

  it("takes back an error when the router's own stop line arrives after the exit event (LRU eviction)", () => {
    const { sut } = subject();
    sut.routerStarted();
    FIRST_RUN.slice(0, 4).forEach((e) => sut.applyEvent(e));
    sut.applyEvent({ ...FIRST_RUN[4]!, data: { status: 'unloaded', exit_code: 1 } });
    expect(sut.get('tiny')?.status).toBe('error');
    sut.expectStop('tiny');
    expect(sut.get('tiny')).toMatchObject({ status: 'unloaded', error: null });
  });

  it('reports a crash while loaded as an error explained by the model\'s log lines', () => {
    const { sut, feedLog } = subject();
    sut.routerStarted();
    FIRST_RUN.forEach((e) => sut.applyEvent(e));
    feedLog();
    CRASH_RUN.forEach((e) => sut.applyEvent(e));
    expect(sut.get('tiny')).toMatchObject({ status: 'error', error: { exitCode: 1 } });
    expect(sut.get('tiny')?.error?.logTail.length).toBeGreaterThan(0);
    expect(sut.get('tiny')?.error?.logTail.every((l) => !l.includes('broken'))).toBe(true);
  });

  it('reports a failed load as an error with its cause from that model\'s lines', () => {
    const { sut, feedLog } = subject();
    sut.routerStarted();
    feedLog();
    FAILED_LOAD.forEach((e) => sut.applyEvent(e));
    const state = sut.get('broken');
    expect(state?.status).toBe('error');
    expect(state?.error?.message).toMatch(/^model instance exited with code 1: .*(loading error|failed to load model)/);
    expect(state?.error?.logTail.join('\n')).toContain('broken.gguf');
    sut.reconcile(SNAPSHOTS.at(-1)!);
    expect(sut.get('broken')?.status).toBe('error');
  });

  it('shows a failed entry of a model never started since the router came up as unloaded, with the router\'s note', () => {
    const { sut } = subject();
    sut.routerStarted();
    sut.reconcile([{ id: 'never-run', status: { value: 'unloaded', failed: true, exit_code: 10 } }]);
    expect(sut.get('never-run')).toMatchObject({ status: 'unloaded', error: null, note: expect.stringMatching(/exit code 10/) });
  });
});
