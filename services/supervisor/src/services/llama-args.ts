import type { PlacementMode, ServerConfig } from '@llamaproxy/shared';

/**
 * `--models-max` with memory-aware placement: a count the router never reaches. Not 0 ("no
 * limit"): llama.cpp's start-up check compares the preset's load-on-startup models with it
 * literally, and refuses to start with "exceeds models_max (0)".
 */
export const PLACEMENT_MODELS_MAX = 10_000;

/**
 * Command-line arguments for llama-server in router mode. `--metrics` is always on; the preset
 * file carries per-model settings. Extra arguments go last so that they win (the flag policy
 * refuses `--models-max` and `--models-autoload` there). With memory-aware placement the
 * supervisor alone loads and evicts: the router gets `--no-models-autoload` and a count limit it
 * never reaches (PLACEMENT_MODELS_MAX), whatever the configuration says.
 */
export function buildRouterArgs(config: ServerConfig, presetPath: string | null, placement: PlacementMode = 'count'): string[] {
  const memory = placement === 'memory';
  const args = [
    '--host', config.host,
    '--port', String(config.port),
    '--models-dir', config.modelsDir,
    '--models-max', memory ? String(PLACEMENT_MODELS_MAX) : String(config.modelsMax),
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

