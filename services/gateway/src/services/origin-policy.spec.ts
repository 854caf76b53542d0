import { describe, expect, it } from 'vitest';
import { originAllowed } from './origin-policy.js';

describe(originAllowed.name, () => {
  const allowed = ['https://dash.example.com'];
  it.each([
    [undefined, 'localhost:8080', true, 'no Origin: not a web page'],
    ['http://localhost:8080', 'localhost:8080', true, 'the dashboard itself'],
    ['https://LOCALHOST:8080', 'localhost:8080', true, 'host compared without case, scheme ignored behind TLS proxies'],
    ['https://dash.example.com', 'gateway:3000', true, 'listed in ALLOWED_ORIGINS'],
    ['https://evil.example', 'localhost:8080', false, 'a foreign page'],
    ['http://localhost:8081', 'localhost:8080', false, 'another port is another origin'],
    ['null', 'localhost:8080', false, 'sandboxed frames and file://'],
    ['not a url', 'localhost:8080', false, 'garbage'],
    ['http://localhost:8080', undefined, false, 'no Host to compare with'],
  ])('Origin %s with Host %s → %s (%s)', (origin, host, expected, _why) => {
    expect(originAllowed(origin === undefined ? {} : { origin }, host, allowed)).toBe(expected);
  });
});
