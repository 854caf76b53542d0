import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { UpstreamUnavailable } from '../repositories/llama-upstream.js';
import type { ApiPrincipal } from './api-keys.service.js';
import { ApiError, OpenAiProxy } from './openai-proxy.service.js';

const principal = (models: string[] | null = null): ApiPrincipal => ({ keyId: 'k', keyName: 'k', userId: null, username: null, models, limits: { requestsPerMinute: null, tokensPerMinute: null } });

function setup(list: () => Promise<{ id: string; status: string; created: number | null }[]>, modelConcurrency = 2) {
  // No limits in these cases, so the limiter (and its Redis) is never asked.
  return new OpenAiProxy({ listModels: list, redis: {} as Redis, limits: { modelConcurrency, modelsCacheMs: 1000 } });
}
const models = async () => [{ id: 'a', status: 'loaded', created: 1 }, { id: 'b', status: 'unloaded', created: 1 }];

const status = async (p: Promise<unknown>): Promise<number> => p.then(() => 200, (e: unknown) => (e instanceof ApiError ? e.status : 0));

describe(OpenAiProxy.name, () => {
  it('lists only the models in the key\'s scope', async () => {
    const sut = setup(models);
    expect((await sut.models(principal(['b']))).map((m) => m.id)).toEqual(['b']);
    expect((await sut.models(principal())).map((m) => m.id)).toEqual(['a', 'b']);
  });

  it.each([
    ['out of scope', principal(['a']), 'b', 403],
    ['unknown', principal(), 'zzz', 404],
    ['allowed', principal(['a']), 'a', 200],
  ])('answers %s with %i', async (_name, who, model, expected) => {
    expect(await status(setup(models).admit(who, model))).toBe(expected);
  });

  it('caps requests per model and frees the place on release', async () => {
    const sut = setup(models, 2);
    const first = await sut.admit(principal(), 'a');
    await sut.admit(principal(), 'a');
    expect(await status(sut.admit(principal(), 'a'))).toBe(429);
    expect(await status(sut.admit(principal(), 'b'))).toBe(200);
    first.release(0);
    first.release(0);
    expect(sut.inFlightFor('a')).toBe(1);
    expect(await status(sut.admit(principal(), 'a'))).toBe(200);
  });

  it('answers 503 when the router cannot be asked', async () => {
    const sut = setup(async () => {
      throw new UpstreamUnavailable('connect ECONNREFUSED');
    });
    expect(await status(sut.admit(principal(), 'a'))).toBe(503);
  });
});
