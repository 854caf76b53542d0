import type { ServerConfig } from '@llamaproxy/shared';

/**
 * Command-line arguments for llama-server in router mode. `--metrics` is always on; the preset
 * file carries per-model settings. Extra arguments go last so that they win.
 */
export function buildRouterArgs(config: ServerConfig, presetPath: string | null): string[] {
  const args = [
    '--host', config.host,
    '--port', String(config.port),
    '--models-dir', config.modelsDir,
    '--models-max', String(config.modelsMax),
    '--parallel', String(config.parallel),
    '--ctx-size', String(config.ctxSize),
    '--n-gpu-layers', String(config.gpuLayers),
    '--metrics',
    config.autoload ? '--models-autoload' : '--no-models-autoload',
  ];
  if (config.threadsHttp > 0) {
    args.push('--threads-http', String(config.threadsHttp));
  }
  if (presetPath !== null) {
    args.push('--models-preset', presetPath);
  }
  args.push(...config.extraArgs);
  return args;
}

