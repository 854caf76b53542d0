import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG } from './config.js';
import { controlJobId, controlQueueName, decodeJobError, encodeJobError, JobName } from './jobs.js';

describe(controlJobId.name, () => {
  it('gives the same id to the same intent, so a double click queues once', () => {
    expect(controlJobId(JobName.modelLoad, { modelId: 'a' })).toBe(controlJobId(JobName.modelLoad, { modelId: 'a' }));
    expect(controlJobId(JobName.modelLoad, { modelId: 'a' })).not.toBe(controlJobId(JobName.modelUnload, { modelId: 'a' }));
    expect(controlJobId(JobName.serverRestart, {})).toBe('server.restart');
  });

  it('keys configuration jobs by content: a different configuration is a different intent', () => {
    const a = controlJobId(JobName.configApply, { config: DEFAULT_SERVER_CONFIG });
    const b = controlJobId(JobName.configApply, { config: { ...DEFAULT_SERVER_CONFIG, ctxSize: 1024 } });
    expect(a).not.toBe(b);
    expect(a).toBe(controlJobId(JobName.configApply, { config: { ...DEFAULT_SERVER_CONFIG } }));
  });

  it('never contains ":" (BullMQ ids cannot)', () => {
    expect(controlJobId(JobName.modelLoad, { modelId: 'org/model:Q4_K_M' })).not.toContain(':');
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
