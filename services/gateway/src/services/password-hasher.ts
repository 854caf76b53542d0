import { hash, verify, type Options } from '@node-rs/argon2';

/**
 * argon2id through `@node-rs/argon2` (a maintained Rust binding, no native build step). The
 * parameters are OWASP's first recommended set for argon2id (19 MiB, 2 passes, 1 lane); on this
 * project's 2-core CI machine one verification takes ~110 ms (`npm run bench` reports it).
 */
export const ARGON2_OPTIONS: Options = { memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 };

export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** A hash of nothing anyone knows: verified when the user does not exist, so both answers cost the same. */
let decoy: Promise<string> | null = null;

/**
 * True when `password` matches the PHC string `phc` (the library compares in constant time).
 * With `phc` null (unknown user, or a proxy-only user) a decoy hash is verified and false returned.
 */
export async function verifyPassword(phc: string | null, password: string): Promise<boolean> {
  if (phc === null) {
    decoy ??= hashPassword(`decoy-${Math.random()}`);
    await verify(await decoy, password).catch(() => false);
    return false;
  }
  return verify(phc, password).catch(() => false);
}
