import type { PlacementMode, ServerConfig } from '@llamaproxy/shared';

/**
 * Command-line arguments for llama-server in router mode. `--metrics` is always on; the preset
 * file carries per-model settings. Extra arguments go last so that they win (the flag policy
 * refuses `--models-max` and `--models-autoload` there). With memory-aware placement the
 * supervisor alone loads and evicts: the router gets `--models-max 0 --no-models-autoload`,
 * whatever the configuration says.
 */
export function buildRouterArgs(config: ServerConfig, presetPath: string | null, placement: PlacementMode = 'count'): string[] {
  const memory = placement === 'memory';
  const args = [
    '--host', config.host,
    '--port', String(config.port),
    '--models-dir', config.modelsDir,
    '--models-max', memory ? '0' : String(config.modelsMax),
    '--parallel', String(config.parallel),
    '--ctx-size', String(config.ctxSize),
    '--n-gpu-layers', String(config.gpuLayers),
    '--metrics',
    config.autoload && !memory ? '--models-autoload' : '--no-models-autoload',
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

