import { describe, expect, it } from 'vitest';
import { DEFAULT_ALERT_RULES, type DeliveryView } from '@llamaproxy/shared';
import { channelPatch, ruleInput, ruleParamFields, upsertDelivery } from './alerts.js';

describe(channelPatch.name, () => {
  it('splits settings from secrets and leaves out empty values (a blank secret keeps the stored one)', () => {
    expect(channelPatch('ntfy', { url: ' https://ntfy.sh/t ', token: '', priority: '5' })).toEqual({ kind: 'ntfy', settings: { priority: 5 }, secrets: { url: 'https://ntfy.sh/t' } });
  });

  it('reads e-mail recipients as a list and the TLS box as a boolean', () => {
    expect(channelPatch('email', { host: 'mail', from: 'a@b.c', to: 'x@y.z, u@v.w', secure: true, password: 'p' })).toEqual({
      kind: 'email',
      settings: { host: 'mail', from: 'a@b.c', to: ['x@y.z', 'u@v.w'], secure: true },
      secrets: { password: 'p' },
    });
  });
});

describe(ruleInput.name, () => {
  it('converts the form units back (minutes, seconds) and keeps the rest of the rule', () => {
    const loop = DEFAULT_ALERT_RULES.find((r) => r.id === 'llama-restart-loop')!;
    expect(ruleParamFields(loop.params).map((f) => f.value)).toEqual([3, 10]);
    expect(ruleInput(loop, { enabled: true, forSec: 1.5, repeatMin: 30, params: { restarts: 5, windowMs: 2 } })).toEqual({
      id: 'llama-restart-loop',
      name: loop.name,
      enabled: true,
      forMs: 1500,
      repeatMs: 1_800_000,
      channelIds: [],
      params: { kind: 'llama-restart-loop', restarts: 5, windowMs: 120_000 },
    });
  });
});

describe(upsertDelivery.name, () => {
  const d = (id: number, status: DeliveryView['status']): DeliveryView => ({
    id, ts: id, messageId: 'm', event: 'firing', ruleId: 'r', ruleName: 'R', subject: 's', channelId: 'c', channelName: 'C', status, attempts: 1, lastError: null, updatedAt: id,
  });
  it('replaces a row by id and keeps newest first, bounded', () => {
    expect(upsertDelivery([d(3, 'queued'), d(1, 'queued')], d(3, 'delivered')).map((x) => `${x.id}:${x.status}`)).toEqual(['3:delivered', '1:queued']);
    expect(upsertDelivery([d(1, 'queued')], d(2, 'queued'), 1).map((x) => x.id)).toEqual([2]);
  });
});
