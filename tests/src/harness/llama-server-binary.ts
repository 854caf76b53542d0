import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Where llama-server comes from for tests and `npm run dev`:
 *   1. LLAMA_SERVER_BIN, 2. `llama-server` on PATH, 3. our cached build of the llama.cpp source
 *   that the npm package node-llama-cpp ships as a git bundle.
 * The cache lives outside the repository, keyed by the package version and the bundle's commit.
 */
export const LLAMA_SOURCE_PACKAGE = 'node-llama-cpp';
export const LLAMA_SOURCE_VERSION = '3.21.1';

export function cacheRoot(): string {
  return process.env.LLAMAPROXY_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'llamaproxy');
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate) && statSync(candidate).isFile()) {
      return candidate;
    }
  }
  return null;
}

/** Cached builds, newest first: `<cache>/llama-server/nlc-<version>-<commit>/build/bin/llama-server`. */
function cachedBuilds(): string[] {
  const root = join(cacheRoot(), 'llama-server');
  if (!existsSync(root)) {
    return [];
  }
  return readdirSync(root)
    .filter((d) => d.startsWith(`nlc-${LLAMA_SOURCE_VERSION}-`))
    .map((d) => join(root, d, 'build', 'bin', 'llama-server'))
    .filter((p) => existsSync(p))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
}

export interface LocatedBinary {
  path: string;
  source: 'env' | 'path' | 'cache';
}

export function locateLlamaServer(): LocatedBinary | null {
  const fromEnv = process.env.LLAMA_SERVER_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) {
      throw new Error(`LLAMA_SERVER_BIN=${fromEnv} does not exist`);
    }
    return { path: fromEnv, source: 'env' };
  }
  const fromPath = onPath('llama-server');
  if (fromPath) {
    return { path: fromPath, source: 'path' };
  }
  const cached = cachedBuilds()[0];
  return cached ? { path: cached, source: 'cache' } : null;
}

function run(cmd: string, args: string[], cwd?: string): void {
  const result = spawnSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${result.status ?? result.signal}`);
  }
}

function capture(cmd: string, args: string[], cwd?: string): string {
  const result = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${result.stderr}`);
  }
  return result.stdout.trim();
}

/** cmake --build with a progress line every 30 s instead of thousands of compiler lines. */
async function buildWithProgress(buildDir: string, jobs: number, log: (line: string) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('cmake', ['--build', buildDir, '--target', 'llama-server', '-j', String(jobs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let percent = '0%';
    let lastPrinted = 0;
    const tail: string[] = [];
    const onData = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        const m = /^\[\s*(\d+%)\]/.exec(line);
        if (m?.[1]) {
          percent = m[1];
        }
        if (line.trim()) {
          tail.push(line);
          if (tail.length > 30) {
            tail.shift();
          }
        }
      }
      if (Date.now() - lastPrinted > 30_000) {
        lastPrinted = Date.now();
        log(`building llama-server: ${percent}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) {
        resolve();
      } else {
        reject(new Error(`cmake --build failed (exit ${code}):\n${tail.join('\n')}`));
      }
    });
  });
}

/**
 * Builds llama-server from the llama.cpp source in node-llama-cpp's git bundle:
 * `npm pack` the package (no install), clone the bundle, configure a CPU build with curl off,
 * build only the `llama-server` target. Returns the binary path. Idempotent.
 */
export async function buildLlamaServer(log: (line: string) => void = console.log): Promise<string> {
  const existing = cachedBuilds()[0];
  if (existing) {
    log(`llama-server already built: ${existing}`);
    return existing;
  }
  for (const tool of ['git', 'cmake', 'c++', 'npm']) {
    if (!onPath(tool)) {
      throw new Error(`building llama-server needs "${tool}" on PATH (Debian: apt-get install -y git cmake build-essential)`);
    }
  }
  const root = join(cacheRoot(), 'llama-server');
  mkdirSync(root, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'llamaproxy-nlc-'));
  try {
    log(`fetching ${LLAMA_SOURCE_PACKAGE}@${LLAMA_SOURCE_VERSION} with npm pack`);
    run('npm', ['pack', `${LLAMA_SOURCE_PACKAGE}@${LLAMA_SOURCE_VERSION}`, '--silent'], work);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) {
      throw new Error('npm pack produced no tarball');
    }
    run('tar', ['-xzf', tarball, 'package/llama/gitRelease.bundle'], work);
    const bundle = join(work, 'package', 'llama', 'gitRelease.bundle');
    const commit = capture('git', ['bundle', 'list-heads', bundle]).split(/\s+/)[0]?.slice(0, 8) ?? 'unknown';
    const dir = join(root, `nlc-${LLAMA_SOURCE_VERSION}-${commit}`);
    const src = join(dir, 'src');
    const buildDir = join(dir, 'build');
    if (!existsSync(join(src, 'CMakeLists.txt'))) {
      rmSync(src, { recursive: true, force: true });
      log(`cloning llama.cpp ${commit} into ${src}`);
      run('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', bundle, src]);
    }
    log('configuring (CPU, static, curl off)');
    run('cmake', [
      '-S', src, '-B', buildDir,
      '-DCMAKE_BUILD_TYPE=Release',
      '-DLLAMA_CURL=OFF', '-DLLAMA_OPENSSL=OFF',
      '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF',
      '-DGGML_NATIVE=OFF', '-DBUILD_SHARED_LIBS=OFF',
    ]);
    const started = Date.now();
    const jobs = Number(process.env.LLAMA_BUILD_JOBS ?? 0) || Math.max(1, (await import('node:os')).availableParallelism());
    log(`building llama-server with ${jobs} jobs (about 8 minutes on 2 cores)`);
    await buildWithProgress(buildDir, jobs, log);
    const binary = join(buildDir, 'bin', 'llama-server');
    if (!existsSync(binary)) {
      throw new Error(`build finished but ${binary} is missing`);
    }
    log(`built ${binary} in ${Math.round((Date.now() - started) / 1000)} s`);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The binary to use, building it first when none is found. */
export async function ensureLlamaServer(log: (line: string) => void = console.log): Promise<string> {
  const found = locateLlamaServer();
  if (found) {
    return found.path;
  }
  log('no llama-server found (LLAMA_SERVER_BIN, PATH, cache): building it once');
  return buildLlamaServer(log);
}

