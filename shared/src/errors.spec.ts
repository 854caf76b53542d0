import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode, isErrorCode, toErrorInfo } from './errors.js';

describe(toErrorInfo.name, () => {
  it('keeps the code and message of an AppError', () => {
    expect(toErrorInfo(new AppError(ErrorCode.MODEL_NOT_FOUND, 'no model "x"'))).toEqual({ code: 'MODEL_NOT_FOUND', message: 'no model "x"' });
  });

  it('carries the current document of a CONFLICT, and nothing extra otherwise', () => {
    const current = { document: 'config', revision: 3, value: { ctxSize: 1024 } };
    expect(toErrorInfo(new AppError(ErrorCode.CONFLICT, 'changed meanwhile', { current }))).toEqual({ code: 'CONFLICT', message: 'changed meanwhile', current });
    expect(Object.keys(toErrorInfo(new AppError(ErrorCode.TIMEOUT, 't')))).toEqual(['code', 'message']);
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
