import { hash, verify, type Options } from '@node-rs/argon2';

/**
 * argon2id through `@node-rs/argon2` (a maintained Rust binding shipped prebuilt in the registry
 * package, no native build step). 64 MiB and 4 passes on 1 lane: above OWASP's minimum sets, and
 * chosen so that one verification costs 50–250 ms on this project's 2-core machines (~60–90 ms
 * measured; `npm run bench -- sign-in` reports it). OWASP's first set (19 MiB, t=2) took ~8 ms here,
 * too cheap against offline guessing. Sign-in is rate limited, so the memory stays bounded.
 */
export const ARGON2_OPTIONS: Options = { memoryCost: 65_536, timeCost: 4, parallelism: 1, outputLen: 32 };

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
