import { describe, expect, it } from 'vitest';
import { isOwnEvent, REQUEST_EVENT_NAMES, RequestEvents } from './api.js';
import { redactSecrets, REDACTED, roleAllows } from './auth.js';

describe(redactSecrets.name, () => {
  it.each([
    [{ username: 'a', password: 'p' }, { username: 'a', password: REDACTED }],
    [{ settings: { hfToken: 't', 'api-key': 'k', ctx: '1' } }, { settings: { hfToken: REDACTED, 'api-key': REDACTED, ctx: '1' } }],
    [{ config: { extraArgs: ['--api-key', 'k', '-c', '4096'] } }, { config: { extraArgs: ['--api-key', REDACTED, '-c', '4096'] } }],
    [['--hf-token=abc', '--port', '1'], [`--hf-token=${REDACTED}`, '--port', '1']],
    [{ headers: { Authorization: 'Bearer x', cookie: 'c' } }, { headers: { Authorization: REDACTED, cookie: REDACTED } }],
    // Alert channels: URLs, tokens and HMAC secrets, also inside a `secrets` object.
    [{ config: { kind: 'ntfy', settings: { priority: 4 }, secrets: { url: 'https://n/t', token: 'x' } } }, { config: { kind: 'ntfy', settings: { priority: 4 }, secrets: REDACTED } }],
    [{ config: { kind: 'webhook', url: 'https://h/s', webhookUrl: 'u', secret: 's' } }, { config: { kind: 'webhook', url: REDACTED, webhookUrl: REDACTED, secret: REDACTED } }],
    [{ smtp: { host: 'mail', password: 'p', username: 'u' } }, { smtp: { host: 'mail', password: REDACTED, username: 'u' } }],
    ['plain', 'plain'],
  ])('redacts %j', (input, expected) => {
    expect(redactSecrets(input)).toEqual(expected);
  });

  it('cuts off deep nesting instead of recursing without bound', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i += 1) {
      deep = { next: deep };
    }
    expect(JSON.stringify(redactSecrets(deep))).toContain(REDACTED);
  });
});

describe(roleAllows.name, () => {
  it('orders viewer < operator < admin', () => {
    expect([roleAllows('viewer', 'operator'), roleAllows('operator', 'operator'), roleAllows('admin', 'operator')]).toEqual([false, true, true]);
  });

  it('marks every event that changes state as needing more than viewer, and every viewer event as a read, but the own-records family', () => {
    // The one exception has its own rule: `own` events, named `<domain>:own:<action>`, act on the
    // caller's own records only and are off unless an admin setting turns them on (the gateway checks).
    const viewerChanges = REQUEST_EVENT_NAMES.filter((e) => RequestEvents[e].role === 'viewer' && RequestEvents[e].changes);
    expect(viewerChanges.filter((e) => !isOwnEvent(e))).toEqual([]);
    expect(REQUEST_EVENT_NAMES.filter((e) => isOwnEvent(e))).toEqual(viewerChanges);
    expect(viewerChanges.every((e) => /^[a-z]+:own:[a-z]+$/.test(e))).toBe(true);
    expect(REQUEST_EVENT_NAMES.filter((e) => RequestEvents[e].changes).length).toBeGreaterThan(10);
  });
});
