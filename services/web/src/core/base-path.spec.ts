import { describe, expect, it } from 'vitest';
import { basePathFrom, socketPathFor, stripBase, withBase } from './base-path.js';
import { splitPath } from './router.js';

describe('base path helpers', () => {
  it.each([
    ['https://h/', '/'],
    ['https://h/llama/', '/llama/'],
    ['https://h/llama/index.html', '/llama/'],
    ['https://h/a/b/', '/a/b/'],
  ])('basePathFrom(%s) = %s', (uri, base) => {
    expect(basePathFrom(uri)).toBe(base);
  });

  it.each([
    ['/models', '/', '/models'],
    ['/', '/', '/'],
    ['/llama/models', '/llama/', '/models'],
    ['/llama/', '/llama/', '/'],
    ['/llama', '/llama/', '/'],
    ['/other/models', '/llama/', null],
  ])('stripBase(%s, %s) = %s', (pathname, base, expected) => {
    expect(stripBase(pathname, base)).toBe(expected);
  });

  it('builds locations and the socket path under the base', () => {
    expect(withBase('/models', '/llama/')).toBe('/llama/models');
    expect(withBase('/', '/llama/')).toBe('/llama/');
    expect(socketPathFor('/')).toBe('/llamaproxws');
    expect(socketPathFor('/llama/')).toBe('/llama/llamaproxws');
  });

  it('splits query strings and trailing slashes off paths', () => {
    expect(splitPath('/logs/?level=warn')).toEqual({ pathname: '/logs', search: '?level=warn' });
    expect(splitPath('/')).toEqual({ pathname: '/', search: '' });
  });
});
