import { DEFAULT_DASHBOARD_SETTINGS, DEFAULT_SERVER_CONFIG } from '@llamaproxy/shared';
import { describe, expect, it } from 'vitest';
import { buildConfigFile, parseConfigFile } from './config-file.js';

const preset = { global: { 'ctx-size': '8192' }, sections: [{ name: 'qwen', values: { 'n-gpu-layers': 'all' } }] };

describe('config file', () => {
  it('reads back what it exports', () => {
    const file = buildConfigFile(DEFAULT_SERVER_CONFIG, DEFAULT_DASHBOARD_SETTINGS, preset, new Date(0));
    expect(parseConfigFile(JSON.stringify(file))).toEqual({ ok: true, file });
  });

  it.each([
    ['not json', 'The file is not JSON'],
    [JSON.stringify({ format: 'other' }), 'format'],
    [JSON.stringify({ ...buildConfigFile(DEFAULT_SERVER_CONFIG, DEFAULT_DASHBOARD_SETTINGS, preset), config: { ...DEFAULT_SERVER_CONFIG, port: 0 } }), 'config.port'],
  ])('rejects %s', (text, problem) => {
    const parsed = parseConfigFile(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.problems.join('\n')).toContain(problem);
  });
});
