import { describe, expect, it } from 'vitest';
import { DEFAULT_ALERT_RULES, type DeliveryView } from '@llamaproxy/shared';
import { channelFormValues, channelPatch, channelUpdate, customRuleInput, ruleInput, ruleParamFields, upsertDelivery, type CustomRuleForm } from './alerts.js';

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

describe(channelFormValues.name, () => {
  it('fills the non-secret settings and leaves every secret empty', () => {
    expect(channelFormValues({ kind: 'email', settings: { host: 'mail', port: 587, secure: true, from: 'a@b.c', to: ['x@y.z', 'u@v.w'] } })).toEqual({
      host: 'mail',
      port: '587',
      secure: true,
      username: '',
      password: '',
      from: 'a@b.c',
      to: 'x@y.z, u@v.w',
    });
    expect(channelFormValues({ kind: 'ntfy', settings: { priority: 4 } })).toEqual({ url: '', token: '', priority: '4' });
  });
});

describe(channelUpdate.name, () => {
  it('leaves empty secrets out (the stored ones are kept) and sends the new ones', () => {
    expect(channelUpdate({ id: 'c1', kind: 'ntfy' }, { name: ' Phone ', enabled: false, values: { url: '', token: 'new', priority: '2' } })).toEqual({
      ok: true,
      value: { channelId: 'c1', name: 'Phone', enabled: false, config: { kind: 'ntfy', settings: { priority: 2 }, secrets: { token: 'new' } } },
    });
  });

  it('clears an emptied optional text setting, and names the required ones left empty', () => {
    const values = { host: 'mail', port: '', secure: false, username: '', password: '', from: 'a@b.c', to: 'x@y.z' };
    const result = channelUpdate({ id: 'c2', kind: 'email' }, { name: 'Mail', enabled: true, values });
    expect(result).toEqual({ ok: true, value: { channelId: 'c2', name: 'Mail', enabled: true, config: { kind: 'email', settings: { host: 'mail', secure: false, username: '', from: 'a@b.c', to: ['x@y.z'] }, secrets: {} } } });
    expect(channelUpdate({ id: 'c2', kind: 'email' }, { name: '', enabled: true, values: { ...values, host: ' ' } })).toEqual({ ok: false, problems: ['Name: required', 'SMTP host: required'] });
  });
});

describe(customRuleInput.name, () => {
  const form = (patch: Partial<CustomRuleForm> = {}): CustomRuleForm => ({ name: '', series: 'cpu.usagePct', comparison: 'above', threshold: '90', forSec: '', repeatMin: '', channelIds: [], ...patch });

  it('builds a new custom rule, named after its condition when no name is given', () => {
    expect(customRuleInput(form({ forSec: '30', repeatMin: '15', channelIds: ['c1'] }))).toEqual({
      ok: true,
      value: { name: 'cpu.usagePct above 90', enabled: true, forMs: 30_000, repeatMs: 900_000, channelIds: ['c1'], params: { kind: 'custom', series: 'cpu.usagePct', comparison: 'above', threshold: 90 } },
    });
    const below = customRuleInput(form({ name: ' Slow ', comparison: 'below', threshold: '-1.5' }));
    expect(below.ok && below.value).toMatchObject({ name: 'Slow', forMs: 0, repeatMs: 0, params: { comparison: 'below', threshold: -1.5 } });
  });

  it.each<[Partial<CustomRuleForm>, string[]]>([
    [{ series: '  ' }, ['Series: required']],
    [{ threshold: '' }, ['Threshold: a number']],
    [{ threshold: 'ninety' }, ['Threshold: a number']],
    [{ series: '', threshold: 'x', forSec: '-1' }, ['Series: required', 'Threshold: a number', 'For at least (s): a number from 0 to 2592000']],
    [{ repeatMin: 'soon' }, ['Repeat every (min): a number from 0 to 43200']],
  ])('refuses %o: %o', (patch, problems) => {
    expect(customRuleInput(form(patch))).toEqual({ ok: false, problems });
  });
});

describe(ruleInput.name, () => {
  it('replaces the channels notified when the form gives them', () => {
    const crashed = DEFAULT_ALERT_RULES.find((r) => r.id === 'llama-crashed')!;
    expect(ruleInput(crashed, { enabled: true, forSec: 0, repeatMin: 0, params: {}, channelIds: ['c1', 'c2'] }).channelIds).toEqual(['c1', 'c2']);
  });

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
