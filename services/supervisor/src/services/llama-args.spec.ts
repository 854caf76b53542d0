import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG } from '@llamaproxy/shared';
import { buildRouterArgs, PLACEMENT_MODELS_MAX } from './llama-args.js';

describe(buildRouterArgs.name, () => {
  const config = { ...DEFAULT_SERVER_CONFIG, modelsMax: 3, autoload: true };
  const flag = (args: string[], name: string): string | undefined => args[args.indexOf(name) + 1];

  it('keeps the configured count limit and autoload with count-based placement', () => {
    const sut = buildRouterArgs(config, null, 'count');
    expect(flag(sut, '--models-max')).toBe('3');
    expect(sut).toContain('--models-autoload');
    expect(buildRouterArgs(config, null)).toEqual(sut);
  });

  it('turns the router’s own autoload and count limit off with memory-aware placement', () => {
    const sut = buildRouterArgs(config, '/data/preset.ini', 'memory');
    // Not 0: llama.cpp refuses to start load-on-startup models against "models_max (0)".
    expect(flag(sut, '--models-max')).toBe(String(PLACEMENT_MODELS_MAX));
    expect(sut).toContain('--no-models-autoload');
    expect(sut).not.toContain('--models-autoload');
  });
});
