import { AppError, ErrorCode } from '@llamaproxy/shared';
import type { AuthService } from '../services/auth.service.js';
import type { UsersService } from '../services/users.service.js';
import type { DomainHandlers } from './request-context.js';

type UserEvents = 'users:list' | 'users:create' | 'users:update' | 'users:password:reset' | 'users:delete' | 'sessions:list' | 'sessions:revoke';

/** Users and their sign-in sessions (admins only, by the shared role table). */
export function createUserHandlers(deps: { users: UsersService; auth: AuthService; sessions: { byHandle(handle: string): { idHash: string } | null } }): DomainHandlers<UserEvents> {
  const { users, auth, sessions } = deps;
  return {
    'users:list': async () => ({ users: users.list() }),
    'users:create': async ({ username, password, role }) => ({ user: await users.create(username, password, role) }),
    'users:update': async ({ userId, role, disabled }) => ({ user: users.update(userId, { role, disabled }) }),
    'users:password:reset': async ({ userId, password }) => ({ user: await users.resetPassword(userId, password) }),
    'users:delete': async ({ userId }) => {
      users.delete(userId);
      return { userId };
    },
    'sessions:list': async ({ userId }, ctx) => ({ sessions: auth.sessionViews(userId, ctx.sessionHash) }),
    'sessions:revoke': async ({ handle }) => {
      const session = sessions.byHandle(handle);
      if (session === null) {
        throw new AppError(ErrorCode.SESSION_NOT_FOUND, 'no such session');
      }
      auth.revokeSession(session.idHash);
      return { handle };
    },
  };
}
