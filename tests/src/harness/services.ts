import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from './process.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type ServiceName = 'gateway' | 'supervisor' | 'metrics';

/**
 * Starts a service the way its container does (same entry point, same environment keys), as a
 * plain Node process running the TypeScript source through tsx. `nodeArgs` go to node before the
 * entry (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile it; node refuses those in NODE_OPTIONS).
 */
export function startService(name: ServiceName, env: Record<string, string>, options: { echo?: boolean; nodeArgs?: readonly string[] } = {}): ManagedProcess {
  return new ManagedProcess(
    process.execPath,
    [...(options.nodeArgs ?? []), '--conditions=development', '--import', 'tsx', join(REPO_ROOT, 'services', name, 'src', 'main.ts')],
    {
      name,
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_FORMAT: 'json', ...env },
      echo: options.echo ?? process.env.ECHO_SERVICES === '1',
    },
  );
}
