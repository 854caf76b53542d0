import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Asks the llama-server binary for its `--help` and `--version` (asynchronously, with a deadline). */
export async function probeLlamaBinary(bin: string): Promise<{ help: string; version: string | null }> {
  const help = await run(bin, ['--help'], { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }).then(
    (r) => r.stdout + r.stderr,
    (err: { stdout?: string; stderr?: string; message: string }) => {
      // Some builds exit non-zero after printing usage; keep what they printed.
      const printed = (err.stdout ?? '') + (err.stderr ?? '');
      if (printed.includes('--ctx-size')) {
        return printed;
      }
      throw new Error(`cannot run ${bin} --help: ${err.message}`);
    },
  );
  const version = await run(bin, ['--version'], { timeout: 15_000 }).then(
    (r) => /version: (.+)/.exec(r.stdout + r.stderr)?.[1]?.trim() ?? null,
    () => null,
  );
  return { help, version };
}
