import * as shared from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { AUTH_ROUTES, LOG_LEVEL_RANK, LOG_LEVELS, LOG_SOURCES, REQUEST_ROLES, ROLE_RANK, ROLES, SOCKET_PATH } from './contract.js';

describe('contract copies', () => {
  it('equal the values of @llamaproxy/shared', () => {
    expect(SOCKET_PATH).toBe(shared.SOCKET_PATH);
    expect(LOG_LEVEL_RANK).toEqual(shared.LOG_LEVEL_RANK);
    expect([...LOG_LEVELS].sort()).toEqual(Object.values(shared.LogLevel).sort());
    expect([...LOG_SOURCES].sort()).toEqual(Object.values(shared.LogSource).sort());
    expect(AUTH_ROUTES).toEqual(shared.AuthRoutes);
    expect([...ROLES].sort()).toEqual(Object.values(shared.Role).sort());
    expect(ROLE_RANK).toEqual(shared.ROLE_RANK);
  });

  it('give every request event the role of the shared request table', () => {
    const table = Object.fromEntries(shared.REQUEST_EVENT_NAMES.map((event) => [event, shared.RequestEvents[event].role]));
    expect(REQUEST_ROLES).toEqual(table);
  });
});
