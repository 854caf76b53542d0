import { AppError, ErrorCode, type Role, type UserView } from '@llamaproxy/shared';
import { toUserView, type UserRecord, type UserRepository } from '../repositories/user.repository.js';
import type { AuthService } from './auth.service.js';
import { hashPassword } from './password-hasher.js';

/**
 * What admins do to users. The rule that matters: there is always at least one enabled admin
 * (LAST_ADMIN otherwise). Every change that alters what a user may do ends their open sockets,
 * which reconnect with the new identity (or not at all).
 */
export class UsersService {
  private readonly users: UserRepository;
  private readonly auth: AuthService;

  constructor(users: UserRepository, auth: AuthService) {
    this.users = users;
    this.auth = auth;
  }

  list(): UserView[] {
    return this.users.list().map(toUserView);
  }

  async create(username: string, password: string, role: Role): Promise<UserView> {
    const passwordHash = await hashPassword(password);
    const user = this.users.transaction(() => {
      if (this.users.byUsername(username) !== null) {
        throw new AppError(ErrorCode.USER_EXISTS, `a user named "${username}" exists`);
      }
      return this.users.create({ username, passwordHash, role, origin: 'local' });
    });
    return toUserView(user);
  }

  /** Changes role and/or disabled; LAST_ADMIN when that would leave no enabled admin. */
  update(userId: string, patch: { role?: Role | undefined; disabled?: boolean | undefined }): UserView {
    const updated = this.users.transaction(() => {
      const user = this.require(userId);
      const losesAdmin = user.role === 'admin' && !user.disabled && ((patch.role !== undefined && patch.role !== 'admin') || patch.disabled === true);
      if (losesAdmin && this.users.enabledAdmins() <= 1) {
        throw new AppError(ErrorCode.LAST_ADMIN, 'the last admin cannot be demoted or disabled');
      }
      return this.users.update(userId, { ...(patch.role !== undefined ? { role: patch.role } : {}), ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}) }) as UserRecord;
    });
    if (patch.disabled === true) {
      this.auth.revokeUserSessions(userId);
    } else {
      this.auth.kickUser(userId);
    }
    return toUserView(updated);
  }

  /** Sets a new password and ends every session of that user. */
  async resetPassword(userId: string, password: string): Promise<UserView> {
    this.require(userId);
    const updated = this.users.update(userId, { passwordHash: await hashPassword(password) });
    if (updated === null) {
      throw new AppError(ErrorCode.USER_NOT_FOUND, 'no such user');
    }
    this.auth.revokeUserSessions(userId);
    return toUserView(updated);
  }

  delete(userId: string): void {
    this.users.transaction(() => {
      const user = this.require(userId);
      if (user.role === 'admin' && !user.disabled && this.users.enabledAdmins() <= 1) {
        throw new AppError(ErrorCode.LAST_ADMIN, 'the last admin cannot be deleted');
      }
      this.users.delete(userId);
    });
    // Sessions went with the user (ON DELETE CASCADE); their sockets go now.
    this.auth.kickUser(userId);
  }

  /** The user name for audit targets, when the user exists. */
  nameOf(userId: string): string | null {
    return this.users.byId(userId)?.username ?? null;
  }

  private require(userId: string): UserRecord {
    const user = this.users.byId(userId);
    if (user === null) {
      throw new AppError(ErrorCode.USER_NOT_FOUND, 'no such user');
    }
    return user;
  }
}
