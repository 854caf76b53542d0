import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG } from './config.js';
import { controlJobId, controlQueueName, controlRunId, decodeJobError, encodeJobError, intentKeyOf, JOB_RETRY, JOB_TIMEOUT_MS, jobDeadlineMs, JobName } from './jobs.js';

describe(controlJobId.name, () => {
  it('gives the same id to the same intent, so a double click queues once', () => {
    expect(controlJobId(JobName.modelLoad, { modelId: 'a' })).toBe(controlJobId(JobName.modelLoad, { modelId: 'a' }));
    expect(controlJobId(JobName.modelLoad, { modelId: 'a' })).not.toBe(controlJobId(JobName.modelUnload, { modelId: 'a' }));
    expect(controlJobId(JobName.serverRestart, {})).toBe('server.restart');
  });

  it('keys configuration jobs by content: a different configuration is a different intent', () => {
    const a = controlJobId(JobName.configApply, { config: DEFAULT_SERVER_CONFIG, revision: 1 });
    const b = controlJobId(JobName.configApply, { config: { ...DEFAULT_SERVER_CONFIG, ctxSize: 1024 }, revision: 1 });
    expect(a).not.toBe(b);
    // The same document under a newer revision is the same intent (it applies the same thing).
    expect(a).toBe(controlJobId(JobName.configApply, { config: { ...DEFAULT_SERVER_CONFIG }, revision: 2 }));
  });

  it('never contains ":" (BullMQ ids cannot)', () => {
    expect(controlJobId(JobName.modelLoad, { modelId: 'org/model:Q4_K_M' })).not.toContain(':');
  });
});

describe(controlRunId.name, () => {
  it('gives every run of an intent its own id, from which the intent key is read back', () => {
    const key = controlJobId(JobName.modelLoad, { modelId: 'org/model:Q4' });
    const first = controlRunId(key, 1_700_000_000_000, () => 0.5);
    const second = controlRunId(key, 1_700_000_000_001, () => 0.5);
    expect(first).not.toBe(second);
    expect(first.startsWith(`${key}.`)).toBe(true);
    expect(first).not.toContain(':');
    expect(Number.isInteger(Number(first))).toBe(false);
    expect(intentKeyOf(first)).toBe(key);
    expect(intentKeyOf(second)).toBe(key);
  });
});

describe(jobDeadlineMs.name, () => {
  it('covers every attempt at its timeout and the backoff between them, for every job', () => {
    for (const name of Object.values(JobName)) {
      expect(jobDeadlineMs(name)).toBeGreaterThan(JOB_TIMEOUT_MS[name] * JOB_RETRY.attempts);
    }
    expect(jobDeadlineMs(JobName.modelLoad)).toBe(10 * 60_000 * 3 + 2000 + 4000 + 60_000);
  });
});

describe(controlQueueName.name, () => {
  it('is a valid BullMQ queue name for any node id', () => {
    expect(controlQueueName('gpu-box.local')).toBe('control-gpu-box.local');
    expect(controlQueueName('a:b c')).toBe('control-a_b_c');
  });
});

describe(decodeJobError.name, () => {
  it('round-trips a coded error through a BullMQ failure message', () => {
    expect(decodeJobError(encodeJobError({ code: 'MODEL_NOT_FOUND', message: 'no model "x": gone' }))).toEqual({
      code: 'MODEL_NOT_FOUND',
      message: 'no model "x": gone',
    });
  });

  it('turns anything else into JOB_FAILED', () => {
    expect(decodeJobError('boom')).toEqual({ code: 'JOB_FAILED', message: 'boom' });
    expect(decodeJobError('NOT_A_CODE: x')).toEqual({ code: 'JOB_FAILED', message: 'NOT_A_CODE: x' });
    expect(decodeJobError(undefined)).toEqual({ code: 'JOB_FAILED', message: 'job failed' });
  });
});
