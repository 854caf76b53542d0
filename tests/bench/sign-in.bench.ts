/**
 * The cost of signing in (the auth issue's figures): argon2id with the gateway's own parameters
 * (`ARGON2_OPTIONS`: OWASP's first set, 19 MiB, 2 passes, 1 lane), through the gateway's own
 * `hashPassword` / `verifyPassword`, one call at a time, median of RUNS after one warm-up call:
 *   - hashing a password (user creation, password change and reset);
 *   - verifying a password (every sign-in), against the 50–250 ms band: slow enough to make
 *     guessing expensive, fast enough for a person and for a 2-core machine;
 *   - verifying for a user name that does not exist (the decoy hash), with the known user's verify
 *     measured in this run as its baseline: the two must cost the same, or the time of a failed
 *     sign-in would tell which user names exist.
 */
import { ARGON2_OPTIONS, hashPassword, verifyPassword } from '@llamaproxy/gateway/src/services/password-hasher.js';
import { percentile, row, type Bench, type BenchRow } from './bench.js';

const RUNS = 10;
const BAND_MS = { min: 50, max: 250 } as const;
/** How far apart the unknown-user and known-user verifications may be (as a ratio) before it shows. */
const DECOY_RATIO = { min: 0.8, max: 1.25 } as const;
const PASSWORD = 'correct horse battery staple';

const log = (line: string): void => void process.stderr.write(`[sign-in bench] ${line}\n`);

/** Median wall time (ms) of RUNS sequential calls of `fn`, after one warm-up call. */
async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return percentile(times, 50);
}

const bench: Bench = {
  name: 'sign-in',
  async run(): Promise<BenchRow[]> {
    const params = `m=${ARGON2_OPTIONS.memoryCost} KiB, t=${ARGON2_OPTIONS.timeCost}, p=${ARGON2_OPTIONS.parallelism}`;
    const inBand = (ms: number): boolean => ms >= BAND_MS.min && ms <= BAND_MS.max;
    const band = `${BAND_MS.min}–${BAND_MS.max} ms`;

    const hashMs = await median(() => hashPassword(PASSWORD));
    const phc = await hashPassword(PASSWORD);
    if (!(await verifyPassword(phc, PASSWORD)) || (await verifyPassword(phc, `${PASSWORD}!`))) {
      throw new Error('verifyPassword does not tell the right password from a wrong one');
    }
    const verifyMs = await median(() => verifyPassword(phc, PASSWORD));
    const wrongMs = await median(() => verifyPassword(phc, 'not the password'));
    const decoyMs = await median(() => verifyPassword(null, 'not the password'));
    log(`argon2id (${params}): hash ${hashMs.toFixed(1)} ms, verify ${verifyMs.toFixed(1)} ms, wrong password ${wrongMs.toFixed(1)} ms, unknown user ${decoyMs.toFixed(1)} ms (medians of ${RUNS})`);

    const decoyRatio = decoyMs / wrongMs;
    return [
      row({ figure: `argon2id hash (${params}), median of ${RUNS}`, value: hashMs, unit: 'ms', target: band, met: inBand(hashMs) }),
      row({ figure: `argon2id verify, right password (${params}), median of ${RUNS}`, value: verifyMs, unit: 'ms', target: band, met: inBand(verifyMs) }),
      row({
        figure: `sign-in verify for an unknown user (decoy hash), median of ${RUNS}`,
        value: decoyMs,
        unit: 'ms',
        baseline: wrongMs,
        baselineLabel: 'known user, wrong password',
        target: `${DECOY_RATIO.min}–${DECOY_RATIO.max}x the known user's`,
        met: decoyRatio >= DECOY_RATIO.min && decoyRatio <= DECOY_RATIO.max,
      }),
    ];
  },
};

export default bench;
