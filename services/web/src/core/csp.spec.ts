import { describe, expect, it } from 'vitest';
import { makeZodJitless } from './csp.js';

describe(makeZodJitless.name, () => {
  it('turns on zod jitless mode when zod loaded first, so parsing never builds a Function', async () => {
    const { z } = await import('zod');
    expect(z.config().jitless).not.toBe(true);
    makeZodJitless();
    expect(z.config().jitless).toBe(true);

    let built = 0;
    const original = globalThis.Function;
    globalThis.Function = new Proxy(original, {
      construct(target, args: string[]) {
        built += 1;
        return Reflect.construct(target, args);
      },
    });
    try {
      expect(z.object({ a: z.string(), b: z.number() }).parse({ a: 'x', b: 1 })).toEqual({ a: 'x', b: 1 });
    } finally {
      globalThis.Function = original;
    }
    expect(built).toBe(0);
  });
});
