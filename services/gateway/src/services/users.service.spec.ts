import { describe, expect, it } from 'vitest';
import { AppError } from '@llamaproxy/shared';
import { openDatabase } from '../db/database.js';
import { UserRepository } from '../repositories/user.repository.js';
import type { AuthService } from './auth.service.js';
import { UsersService } from './users.service.js';

/** The user rules against a real SQLite database with the real migrations; sockets are counted, not opened. */
function setup() {
  const users = new UserRepository(openDatabase(':memory:'));
  const kicked: string[] = [];
  const revoked: string[] = [];
  const auth = { kickUser: (id: string) => kicked.push(id), revokeUserSessions: (id: string) => revoked.push(id) } as unknown as AuthService;
  return { sut: new UsersService(users, auth), users, kicked, revoked };
}

const code = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
};

describe(UsersService.name, () => {
  it('keeps at least one enabled admin', async () => {
    const { sut } = setup();
    const root = await sut.create('root', 'root-password', 'admin');
    expect(code(() => sut.update(root.id, { role: 'viewer' }))).toBe('LAST_ADMIN');
    expect(code(() => sut.update(root.id, { disabled: true }))).toBe('LAST_ADMIN');
    expect(code(() => sut.delete(root.id))).toBe('LAST_ADMIN');
    const second = await sut.create('second', 'second-password', 'admin');
    expect(sut.update(root.id, { role: 'viewer' }).role).toBe('viewer');
    // Now `second` is the last enabled admin.
    expect(code(() => sut.delete(second.id))).toBe('LAST_ADMIN');
  });

  it('does not count a disabled admin as the one that remains', async () => {
    const { sut } = setup();
    const a = await sut.create('a-admin', 'a-password-1', 'admin');
    const b = await sut.create('b-admin', 'b-password-1', 'admin');
    sut.update(b.id, { disabled: true });
    expect(code(() => sut.update(a.id, { role: 'operator' }))).toBe('LAST_ADMIN');
  });

  it('refuses a second user with the same name in another case', async () => {
    const { sut } = setup();
    await sut.create('Alice', 'alice-password', 'viewer');
    await expect(sut.create('alice', 'alice-password', 'viewer')).rejects.toMatchObject({ code: 'USER_EXISTS' });
  });

  it('ends sockets on a role change and sessions when disabling or resetting a password', async () => {
    const { sut, kicked, revoked } = setup();
    await sut.create('root', 'root-password', 'admin');
    const u = await sut.create('user', 'user-password', 'viewer');
    sut.update(u.id, { role: 'operator' });
    expect(kicked).toEqual([u.id]);
    sut.update(u.id, { disabled: true });
    await sut.resetPassword(u.id, 'new-password-1');
    expect(revoked).toEqual([u.id, u.id]);
  });

  it('never returns password hashes', async () => {
    const { sut } = setup();
    await sut.create('root', 'root-password', 'admin');
    expect(JSON.stringify(sut.list())).not.toMatch(/argon2|passwordHash/);
  });

  it('answers USER_NOT_FOUND for an unknown id', () => {
    const { sut } = setup();
    expect(code(() => sut.update('nope', { role: 'admin' }))).toBe('USER_NOT_FOUND');
  });
});
