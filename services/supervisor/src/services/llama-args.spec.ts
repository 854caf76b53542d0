import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_CONFIG } from '@llamaproxy/shared';
import { buildRouterArgs } from './llama-args.js';

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
    expect(flag(sut, '--models-max')).toBe('0');
    expect(sut).toContain('--no-models-autoload');
    expect(sut).not.toContain('--models-autoload');
  });
});
