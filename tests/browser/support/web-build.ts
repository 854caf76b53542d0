import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../src/harness/index.js';

export const WEB_DIST = join(REPO_ROOT, 'services', 'web', 'dist');

/** What the web build reads: the app, its build config, and the shared contracts it bundles. */
const INPUTS = [
  join(REPO_ROOT, 'services', 'web', 'src'),
  join(REPO_ROOT, 'services', 'web', 'index.html'),
  join(REPO_ROOT, 'services', 'web', 'vite.config.ts'),
  join(REPO_ROOT, 'services', 'web', 'package.json'),
  join(REPO_ROOT, 'shared', 'src'),
];

function newestMtime(path: string): number {
  if (!existsSync(path)) {
    return 0;
  }
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    return stat.mtimeMs;
  }
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** True when dist/ is missing or older than any of its inputs. */
export function webBuildIsStale(): boolean {
  const index = join(WEB_DIST, 'index.html');
  if (!existsSync(index)) {
    return true;
  }
  const built = statSync(index).mtimeMs;
  return INPUTS.some((input) => newestMtime(input) > built);
}

/** Builds services/web (`npm run build -w services/web`) when dist/ is missing or stale; returns dist/. */
export async function ensureWebBuild(): Promise<string> {
  if (!webBuildIsStale()) {
    return WEB_DIST;
  }
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('npm', ['run', 'build', '-w', 'services/web'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0 || !existsSync(join(WEB_DIST, 'index.html'))) {
    throw new Error(`npm run build -w services/web failed (exit ${code})\n${output.join('').slice(-4000)}`);
  }
  return WEB_DIST;
}
