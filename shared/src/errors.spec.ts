import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode, isErrorCode, toErrorInfo } from './errors.js';

describe(toErrorInfo.name, () => {
  it('keeps the code and message of an AppError', () => {
    expect(toErrorInfo(new AppError(ErrorCode.MODEL_NOT_FOUND, 'no model "x"'))).toEqual({ code: 'MODEL_NOT_FOUND', message: 'no model "x"' });
  });

  it('hides anything else behind INTERNAL', () => {
    expect(toErrorInfo(new Error('SQLITE_CORRUPT at /data/x.db'))).toEqual({ code: 'INTERNAL', message: 'Internal error' });
    expect(toErrorInfo('string')).toEqual({ code: 'INTERNAL', message: 'Internal error' });
  });

  it('knows its codes', () => {
    expect(isErrorCode('QUEUE_UNAVAILABLE')).toBe(true);
    expect(isErrorCode('NOPE')).toBe(false);
  });
});
