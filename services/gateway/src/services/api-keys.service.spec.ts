import { describe, expect, it } from 'vitest';
import type { ConnectionIdentity } from '@llamaproxy/shared';
import { openDatabase } from '../db/database.js';
import { ApiKeyRepository } from '../repositories/api-key.repository.js';
import { UserRepository } from '../repositories/user.repository.js';
import { ApiKeysService } from './api-keys.service.js';

const ENV_KEY = 'environment-key-0123456789';

function setup(now = { value: 1_000_000 }, selfService = false) {
  const db = openDatabase(':memory:');
  const users = new UserRepository(db);
  const ann = users.create({ username: 'ann', passwordHash: null, role: 'viewer', origin: 'local' });
  const bob = users.create({ username: 'bob', passwordHash: null, role: 'admin', origin: 'local' });
  const sut = new ApiKeysService(new ApiKeyRepository(db), [ENV_KEY], () => now.value, { selfService });
  const who = (u: typeof ann): ConnectionIdentity => ({ mode: 'local', user: { id: u.id, username: u.username, role: u.role }, role: u.role });
  return { sut, users, ann: who(ann), bob: who(bob), now };
}

const input = { name: 'k', models: null, expiresAt: null, limits: { requestsPerMinute: null, tokensPerMinute: null } };

describe(ApiKeysService.name, () => {
  it('creates a key shown once, stores only its hash, and authenticates it with its owner and scope', () => {
    const { sut, ann } = setup();
    const { key, secret } = sut.create({ ...input, models: ['a', 'a', 'b'] }, ann);
    expect(secret).toMatch(/^lap-[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(key)).not.toContain(secret);
    expect(key.prefix).toBe(secret.slice(0, 12));
    expect(sut.authenticate(secret)).toMatchObject({ keyId: key.id, username: 'ann', models: ['a', 'b'] });
    expect(sut.authenticate(`${secret.slice(0, -1)}x`)).toBeNull();
  });

  it('refuses a revoked key, an expired key, and a key of a disabled owner', () => {
    const { sut, users, ann, now } = setup();
    const revoked = sut.create(input, ann);
    sut.revoke(revoked.key.id, ann);
    expect(sut.authenticate(revoked.secret)).toBeNull();
    const expiring = sut.create({ ...input, expiresAt: now.value + 1000 }, ann);
    expect(sut.authenticate(expiring.secret)).not.toBeNull();
    now.value += 1000;
    expect(sut.authenticate(expiring.secret)).toBeNull();
    const other = sut.create(input, ann);
    users.update(ann.user!.id, { disabled: true });
    expect(sut.authenticate(other.secret)).toBeNull();
  });

  it('lets users manage only their own keys; admins everyone\'s, and see the environment keys', () => {
    const { sut, ann, bob } = setup();
    expect(() => sut.create({ ...input, userId: bob.user!.id }, ann)).toThrow(/only admins/);
    const bobs = sut.create(input, bob);
    expect(() => sut.revoke(bobs.key.id, ann)).toThrow(/no such key/);
    const forAnn = sut.create({ ...input, userId: ann.user!.id }, bob);
    expect(sut.list(ann).map((k) => k.id)).toEqual([forAnn.key.id]);
    expect(sut.list(bob).filter((k) => k.source === 'environment')).toHaveLength(1);
    expect(sut.list(bob).filter((k) => k.source === 'database')).toHaveLength(2);
  });

  it('accepts an environment key for every model, and refuses to revoke it here', () => {
    const { sut, bob } = setup();
    const principal = sut.authenticate(ENV_KEY);
    expect(principal).toMatchObject({ models: null, userId: null });
    expect(() => sut.revoke(principal!.keyId!, bob)).toThrow(/environment/);
  });

  describe('self-service keys (apikeys:own:*)', () => {
    it('are refused while API_KEYS_SELF_SERVICE is off, and without a signed-in user', () => {
      const { sut, ann } = setup();
      expect(() => sut.ownIdentity(ann)).toThrow(expect.objectContaining({ code: 'SELF_SERVICE_OFF' }));
      const on = setup(undefined, true).sut;
      expect(() => on.ownIdentity({ mode: 'none', user: null, role: 'admin' })).toThrow(expect.objectContaining({ code: 'SELF_SERVICE_OFF' }));
    });

    it('act for the caller alone, even an admin: own keys only, no other owner', () => {
      const { sut, ann, bob } = setup(undefined, true);
      const annsKey = sut.create(input, sut.ownIdentity(ann)).key;
      expect(annsKey.userId).toBe(ann.user!.id);
      const bobsKey = sut.create(input, sut.ownIdentity(bob)).key;
      // An admin acting through the own-records family cannot reach another user's key.
      expect(() => sut.revoke(annsKey.id, sut.ownIdentity(bob))).toThrow(expect.objectContaining({ code: 'API_KEY_NOT_FOUND' }));
      expect(() => sut.revoke(bobsKey.id, sut.ownIdentity(ann))).toThrow(expect.objectContaining({ code: 'API_KEY_NOT_FOUND' }));
      expect(() => sut.create({ ...input, userId: bob.user!.id }, sut.ownIdentity(ann))).toThrow(expect.objectContaining({ code: 'OWNER_ONLY' }));
      expect(sut.revoke(annsKey.id, sut.ownIdentity(ann)).revokedAt).not.toBeNull();
    });
  });
});
