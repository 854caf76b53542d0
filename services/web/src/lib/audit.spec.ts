import { describe, expect, it } from 'vitest';
import { auditEntry } from '../test-support/fixtures.js';
import { NO_AUDIT_FILTER, appendOlder, auditCsv, auditEventSuggestions, auditQuery, localDateTimeToMs } from './audit.js';

describe('localDateTimeToMs', () => {
  it('reads local minutes and seconds', () => {
    expect(localDateTimeToMs('2026-01-31T14:03')).toBe(new Date(2026, 0, 31, 14, 3).getTime());
    expect(localDateTimeToMs('2026-01-31T14:03:07')).toBe(new Date(2026, 0, 31, 14, 3, 7).getTime());
  });

  it.each(['', 'yesterday', '2026-01-31'])('gives undefined for %j', (value) => {
    expect(localDateTimeToMs(value)).toBeUndefined();
  });
});

describe('auditQuery', () => {
  it('sends only the filters that are set', () => {
    expect(auditQuery(NO_AUDIT_FILTER, 100)).toEqual({ limit: 100 });
  });

  it('trims text, includes the whole last minute and pages with beforeId', () => {
    const from = new Date(2026, 0, 31, 14, 0).getTime();
    const to = new Date(2026, 0, 31, 15, 0).getTime();
    expect(auditQuery({ username: ' alice ', event: 'users:', outcome: 'denied', from: '2026-01-31T14:00', to: '2026-01-31T15:00' }, 50, 77)).toEqual({
      limit: 50,
      username: 'alice',
      event: 'users:',
      outcome: 'denied',
      from,
      to: to + 59_999,
      beforeId: 77,
    });
  });
});

describe('appendOlder', () => {
  it('keeps newest first without duplicates', () => {
    const merged = appendOlder([auditEntry(9), auditEntry(8)], [auditEntry(8), auditEntry(7), auditEntry(6)]);
    expect(merged.map((e) => e.id)).toEqual([9, 8, 7, 6]);
  });
});

describe('auditEventSuggestions', () => {
  it('offers the domains and the events, sign-in ones too', () => {
    const suggestions = auditEventSuggestions();
    expect(suggestions).toEqual(expect.arrayContaining(['users:', 'auth:', 'models:load', 'auth:sign-in']));
    expect(new Set(suggestions).size).toBe(suggestions.length);
  });
});

describe('auditCsv', () => {
  it('writes one escaped line per entry, in the order shown', () => {
    const csv = auditCsv([
      auditEntry(2, { ts: Date.UTC(2026, 0, 31, 14, 3, 7), username: '=cmd|x', summary: '{"a":"b,c"}', outcome: 'denied', errorCode: 'FORBIDDEN' }),
      auditEntry(1, { ts: Date.UTC(2026, 0, 31, 14, 0, 0), userId: null, username: null, role: null, target: null }),
    ]);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('id,time,user,role,address,event,target,outcome,error,request,summary');
    expect(lines[1]).toBe(`2,2026-01-31T14:03:07.000Z,'=cmd|x,admin,127.0.0.1,users:create,bob,denied,FORBIDDEN,,"{""a"":""b,c""}"`);
    expect(lines[2]).toBe('1,2026-01-31T14:00:00.000Z,,,127.0.0.1,users:create,,ok,,,"{""username"":""bob"",""password"":""***"",""role"":""viewer""}"');
    expect(lines[3]).toBe('');
    expect(lines).toHaveLength(4);
  });
});
