import { AppError, DEFAULT_SERVER_CONFIG, EMPTY_PRESET, ErrorCode, type LlamaStatus, type PresetDocument, type ServerConfig } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { connectHost, LaunchSettings } from './launch-settings.js';
import type { LifecycleSteps } from './llama-lifecycle.js';
import { quietLogger } from './test-support/fakes.js';

const ENV_CONFIG: ServerConfig = { ...DEFAULT_SERVER_CONFIG, modelsDir: '/models', host: '0.0.0.0', port: 8080 };
const REFUSED = '--log-file';

/**
 * Launch settings over in-memory files, a guard that refuses `--log-file`, and a lifecycle whose
 * start succeeds unless the configuration holds `--bad`.
 */
function subject(saved: unknown = undefined) {
  const files = { applied: saved, written: [] as ServerConfig[], preset: EMPTY_PRESET, presetWrites: 0, ensured: 0 };
  const lifecycle = { running: true, starts: [] as string[][], stops: 0 };
  const reloads: number[] = [];
  const refuses = (args: readonly string[]) => args.includes(REFUSED);
  const sut: LaunchSettings = new LaunchSettings(ENV_CONFIG, {
    presets: {
      path: '/data/presets.ini',
      read: async () => files.preset,
      write: async (p) => {
        files.preset = p;
        files.presetWrites++;
      },
      ensure: async () => void files.ensured++,
    },
    appliedConfig: {
      path: '/data/applied.json',
      read: async () => files.applied,
      write: async (c) => void files.written.push(c),
    },
    guard: {
      extraArgsPolicyProblems: (args) => (refuses(args) ? [{ flag: REFUSED, key: 'log_file', reason: 'not allowed: it writes files on the host' }] : []),
      checkExtraArgs: (args) => {
        if (refuses(args)) {
          throw new AppError(ErrorCode.ARG_NOT_ALLOWED, `${REFUSED}: not allowed`);
        }
      },
      checkPreset: () => undefined,
    },
    lifecycle: {
      exclusive: <T>(fn: (steps: LifecycleSteps) => Promise<T>): Promise<T> =>
        fn({
          get running() {
            return lifecycle.running;
          },
          stop: async () => {
            lifecycle.stops++;
            lifecycle.running = false;
            return { state: 'stopped' } as LlamaStatus;
          },
          start: async () => {
            const { args } = await sut.plan();
            lifecycle.starts.push(args);
            if (args.includes('--bad')) {
              throw new Error('llama-server exited during start-up: error: invalid argument: --bad');
            }
            lifecycle.running = true;
            return { state: 'running', args } as LlamaStatus;
          },
        }),
    },
    router: { reload: async () => void reloads.push(1) },
    catalogue: { modelIds: new Set(['tiny']) },
    logger: quietLogger(),
  });
  return { sut, files, lifecycle, reloads };
}

describe(LaunchSettings.name, () => {
  it('plans the router arguments with the preset, reachable on loopback when bound to every address', async () => {
    const { sut } = subject();
    const plan = await sut.plan();
    expect(plan.url).toBe('http://127.0.0.1:8080');
    expect(plan.args.join(' ')).toContain('--models-preset /data/presets.ini');
  });

  it('takes the configuration last applied, with the environment pinning where models are and where it listens', async () => {
    const { sut, files } = subject({ ...ENV_CONFIG, ctxSize: 1024, modelsDir: '/elsewhere', port: 9999 });
    await sut.load();
    expect(sut.current).toMatchObject({ ctxSize: 1024, modelsDir: '/models', port: 8080 });
    expect(files.ensured).toBe(1);
  });

  it.each([
    ['refused by the flag policy', { ...ENV_CONFIG, ctxSize: 1024, extraArgs: [REFUSED, 'x.log'] }],
    ['not a configuration', { ctxSize: 'big' }],
    ['missing', undefined],
  ])('keeps the environment configuration when the saved one is %s', async (_what, saved) => {
    const { sut } = subject(saved);
    await sut.load();
    expect(sut.current).toEqual(ENV_CONFIG);
  });

  it('applies a configuration by restarting with it, and keeps it once it started', async () => {
    const { sut, files, lifecycle } = subject();
    const status = await sut.applyConfig({ ...ENV_CONFIG, ctxSize: 2048, port: 1 });
    expect(status.state).toBe('running');
    expect(lifecycle.stops).toBe(1);
    expect(lifecycle.starts.at(-1)?.join(' ')).toContain('2048');
    expect(files.written).toEqual([{ ...ENV_CONFIG, ctxSize: 2048 }]);
    expect(sut.current.ctxSize).toBe(2048);
  });

  it('restores the previous configuration when llama-server will not start with the new one', async () => {
    const { sut, files, lifecycle } = subject();
    await expect(sut.applyConfig({ ...ENV_CONFIG, extraArgs: ['--bad'] })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
      message: expect.stringContaining('invalid argument: --bad') as string,
    });
    expect(sut.current).toEqual(ENV_CONFIG);
    expect(files.written).toEqual([]);
    expect(lifecycle.starts).toHaveLength(2);
    expect(lifecycle.running).toBe(true);
  });

  it('refuses a configuration the flag policy refuses without stopping anything', async () => {
    const { sut, lifecycle } = subject();
    await expect(sut.applyConfig({ ...ENV_CONFIG, extraArgs: [REFUSED, '/models/tiny.gguf'] })).rejects.toMatchObject({ code: ErrorCode.ARG_NOT_ALLOWED });
    expect(lifecycle.stops).toBe(0);
  });

  it('writes a preset and has the router reread it', async () => {
    const { sut, files, reloads } = subject();
    const preset: PresetDocument = { ...EMPTY_PRESET };
    await expect(sut.applyPreset(preset)).resolves.toBe('/data/presets.ini');
    expect(files.presetWrites).toBe(1);
    expect(reloads).toHaveLength(1);
  });
});

describe(connectHost.name, () => {
  it.each([
    ['0.0.0.0', '127.0.0.1'],
    ['::', '127.0.0.1'],
    ['::1', '[::1]'],
    ['10.0.0.2', '10.0.0.2'],
  ])('reaches %s at %s', (host, expected) => {
    expect(connectHost(host)).toBe(expected);
  });
});
