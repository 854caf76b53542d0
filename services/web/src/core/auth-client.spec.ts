import { describe, expect, it, vi } from 'vitest';
import { AuthClient, AuthError } from './auth-client.js';

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const signedIn = { mode: 'local', user: { id: 'u1', username: 'alice', role: 'admin' }, setupRequired: false };

describe(AuthClient.name, () => {
  it('asks under the base path, same-origin, with a JSON body', async () => {
    const fetchFn = vi.fn(async () => json(200, signedIn));
    const sut = new AuthClient('/llama/', fetchFn);

    await expect(sut.signIn({ username: 'alice', password: 'secret' })).resolves.toEqual(signedIn);

    expect(fetchFn).toHaveBeenCalledWith('/llama/api/auth/sign-in', expect.objectContaining({ method: 'POST', credentials: 'same-origin', body: '{"username":"alice","password":"secret"}' }));
  });

  it('rejects with the code and retry time of the error body', async () => {
    const sut = new AuthClient('/', async () => json(429, { error: { code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 30_000 } }));
    const error = await sut.signIn({ username: 'a', password: 'b' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 429, retryAfterMs: 30_000 });
  });

  it('names an unreachable gateway NETWORK', async () => {
    const sut = new AuthClient('/', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(sut.session()).rejects.toMatchObject({ code: 'NETWORK' });
  });

  it('refuses a page that is not a session (a web server without the /api/ route)', async () => {
    const sut = new AuthClient('/', async () => new Response('<!doctype html><html></html>', { status: 200 }));
    await expect(sut.session()).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('signs out of this session or of all of them', async () => {
    const fetchFn = vi.fn(async () => json(200, { mode: 'local', user: null, setupRequired: false }));
    const sut = new AuthClient('/', fetchFn);
    await sut.signOut();
    await sut.signOut(true);
    expect(fetchFn.mock.calls.map((c) => (c as unknown as [string])[0])).toEqual(['/api/auth/sign-out', '/api/auth/sign-out-all']);
  });
});
