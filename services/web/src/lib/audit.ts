/** The Audit page's rules: the query for a filter, paging, suggestions and the CSV export. */
import { AuthAuditEvent, REQUEST_EVENT_NAMES, type AuditEntry, type AuditOutcome, type RequestPayload } from '@llamaproxy/shared';
import { toCsv } from './csv.js';

export interface AuditFilter {
  username: string;
  /** An event name or its domain prefix ("users:", "auth:"). */
  event: string;
  outcome: AuditOutcome | null;
  /** `<input type="datetime-local">` values (local time, minutes), '' for no bound. */
  from: string;
  to: string;
}

export const NO_AUDIT_FILTER: AuditFilter = { username: '', event: '', outcome: null, from: '', to: '' };

/** Milliseconds of a `datetime-local` value in the browser's time zone, or undefined when empty or invalid. */
export function localDateTimeToMs(value: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (m === null) {
    return undefined;
  }
  const [, y, mo, d, hh, mm, ss] = m.map(Number);
  const ms = new Date(y ?? 0, (mo ?? 1) - 1, d ?? 1, hh ?? 0, mm ?? 0, Number.isNaN(ss) ? 0 : (ss ?? 0)).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The `audit:query` payload, newest first. `to` includes its whole minute (the input has no
 * seconds), so "to 14:03" keeps what happened at 14:03:59.
 */
export function auditQuery(f: AuditFilter, limit: number, beforeId?: number): RequestPayload<'audit:query'> {
  const from = localDateTimeToMs(f.from);
  const to = localDateTimeToMs(f.to);
  return {
    limit,
    ...(f.username.trim() !== '' && { username: f.username.trim() }),
    ...(f.event.trim() !== '' && { event: f.event.trim() }),
    ...(f.outcome !== null && { outcome: f.outcome }),
    ...(from !== undefined && { from }),
    ...(to !== undefined && { to: to + 59_999 }),
    ...(beforeId !== undefined && { beforeId }),
  };
}

/** Older entries appended to the shown ones: newest first, each id once. */
export function appendOlder(shown: readonly AuditEntry[], older: readonly AuditEntry[]): AuditEntry[] {
  const byId = new Map<number, AuditEntry>();
  for (const entry of [...shown, ...older]) {
    byId.set(entry.id, entry);
  }
  return [...byId.values()].sort((a, b) => b.id - a.id);
}

/** Event names and domain prefixes to suggest in the event filter. */
export function auditEventSuggestions(): string[] {
  const events = [...REQUEST_EVENT_NAMES, ...Object.values(AuthAuditEvent)];
  const domains = events.map((e) => `${e.slice(0, e.indexOf(':'))}:`);
  return [...new Set([...domains, ...events])].sort();
}

export const AUDIT_CSV_HEADER = ['id', 'time', 'user', 'role', 'address', 'event', 'target', 'outcome', 'error', 'request', 'summary'] as const;

/** The loaded entries as CSV, times in ISO 8601 (UTC). */
export function auditCsv(entries: readonly AuditEntry[]): string {
  return toCsv(
    AUDIT_CSV_HEADER,
    entries.map((e) => [e.id, new Date(e.ts).toISOString(), e.username, e.role, e.address, e.event, e.target, e.outcome, e.errorCode, e.requestId, e.summary]),
  );
}
