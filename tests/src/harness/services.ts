import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from './process.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type ServiceName = 'gateway' | 'supervisor' | 'metrics';

/**
 * Starts a service the way its container does (same entry point, same environment keys), as a
 * plain Node process running the TypeScript source through tsx.
 */
export function startService(name: ServiceName, env: Record<string, string>, options: { echo?: boolean } = {}): ManagedProcess {
  return new ManagedProcess(
    process.execPath,
    ['--conditions=development', '--import', 'tsx', join(REPO_ROOT, 'services', name, 'src', 'main.ts')],
    {
      name,
      cwd: REPO_ROOT,
      env: { ...process.env, NODE_ENV: 'test', LOG_FORMAT: 'json', ...env },
      echo: options.echo ?? process.env.ECHO_SERVICES === '1',
    },
  );
}
