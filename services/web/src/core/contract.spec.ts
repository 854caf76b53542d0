import * as shared from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { LOG_LEVEL_RANK, LOG_LEVELS, LOG_SOURCES, SOCKET_PATH } from './contract.js';

describe('contract copies', () => {
  it('equal the values of @llamaproxy/shared', () => {
    expect(SOCKET_PATH).toBe(shared.SOCKET_PATH);
    expect(LOG_LEVEL_RANK).toEqual(shared.LOG_LEVEL_RANK);
    expect([...LOG_LEVELS].sort()).toEqual(Object.values(shared.LogLevel).sort());
    expect([...LOG_SOURCES].sort()).toEqual(Object.values(shared.LogSource).sort());
  });
});
