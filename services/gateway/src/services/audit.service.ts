import { redactSecrets, type AuditOutcome, type ConnectionIdentity } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
import type { DatabaseCondition } from '../db/database-errors.js';
import type { AuditRepository } from '../repositories/audit.repository.js';
import type { ActivityLog } from './activity-log.js';

/** Longest payload summary kept per record. */
const SUMMARY_MAX = 2000;

/** One audited action, as the socket handler or an HTTP route saw it. */
export interface AuditInput {
  identity: ConnectionIdentity | null;
  /** The user name tried, for failed sign-ins (no identity then). */
  username?: string | null;
  address: string | null;
  event: string;
  target: string | null;
  payload: unknown;
  outcome: AuditOutcome;
  errorCode: string | null;
  requestId: string | null;
}

/**
 * The audit log: who did what, from where, and how it ended. Payloads are summarised with
 * secrets redacted (passwords, tokens, keys); a short line also reaches the Logs page as
 * source `audit`. Recording never fails a request: a write error is logged once and dropped.
 */
export class AuditService {
  private readonly repo: AuditRepository;
  private readonly activity: ActivityLog;
  private readonly log: Logger;

  private readonly database: DatabaseCondition | undefined;

  /** `database`: when given, a full disk is logged once by it rather than once per record. */
  constructor(repo: AuditRepository, activity: ActivityLog, logger: Logger, database?: DatabaseCondition) {
    this.repo = repo;
    this.activity = activity;
    this.log = logger.child({ module: 'audit' });
    this.database = database;
  }

  async record(input: AuditInput): Promise<void> {
    const username = input.identity?.user?.username ?? input.username ?? null;
    try {
      this.repo.insert({
        ts: Date.now(),
        userId: input.identity?.user?.id ?? null,
        username,
        role: input.identity?.role ?? null,
        address: input.address,
        event: input.event,
        target: input.target,
        summary: summarize(input.payload),
        outcome: input.outcome,
        errorCode: input.errorCode,
        requestId: input.requestId,
      });
      const who = username ?? (input.identity?.mode === 'none' ? 'anonymous admin' : 'anonymous');
      const level = input.outcome === 'ok' ? 'info' : 'warn';
      const line = `${who} ${input.event}${input.target === null ? '' : ` ${input.target}`}: ${input.outcome}${input.errorCode === null ? '' : ` (${input.errorCode})`}`;
      await this.activity.record(level, line, null, 'audit');
      this.database?.succeeded();
    } catch (err) {
      if ((this.database?.failed(err, `audit of ${input.event}`) ?? null) === null) {
        this.log.warn('audit record not stored', { event: input.event, error: (err as Error).message });
      }
    }
  }
}

/** JSON of the payload without `requestId`, secrets redacted, cut to SUMMARY_MAX characters. */
export function summarize(payload: unknown): string {
  const skip = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? 'requestId' : undefined;
  const text = JSON.stringify(redactSecrets(preview(payload ?? {}, { left: PREVIEW_BUDGET }, 0, skip))) ?? '{}';
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}

/** Characters of JSON that `preview` keeps at least (counted low), twice what a summary shows. */
const PREVIEW_BUDGET = 2 * SUMMARY_MAX;
/** `redactSecrets` replaces anything deeper than this; `preview` need not copy it. */
const PREVIEW_DEPTH = 9;

/**
 * The start of `value`, in order, while a budget of JSON characters lasts: strings cut to
 * SUMMARY_MAX, keys and items no longer copied once the budget is spent. A summary keeps 2,000
 * characters, so the work must not grow with the payload: copying, redacting and encoding a
 * hostile 1 MB payload of 20,000 keys whole took ~20 ms of the event loop per refused request.
 * The budget counts each part at most at its JSON length, so the summary is the same as that of
 * the whole payload, unless redacted secrets shorten it.
 */
function preview(value: unknown, budget: { left: number }, depth: number, skipKey?: string): unknown {
  if (typeof value === 'string') {
    budget.left -= Math.min(value.length, SUMMARY_MAX) + 2;
    return value.length > SUMMARY_MAX ? value.slice(0, SUMMARY_MAX) : value;
  }
  if (typeof value !== 'object' || value === null || depth >= PREVIEW_DEPTH) {
    budget.left -= 1;
    return value;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length && budget.left > 0; i++) {
      out.push(preview(value[i], budget, depth + 1));
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  // for...in rather than Object.keys: no array of every key is built for a 20,000-key object.
  for (const key in value) {
    if (budget.left <= 0) {
      break;
    }
    if (key === skipKey || !Object.hasOwn(value, key)) {
      continue;
    }
    budget.left -= key.length + 1;
    // defineProperty: a `__proto__` key from JSON stays a plain key of the copy.
    Object.defineProperty(out, key, { value: preview((value as Record<string, unknown>)[key], budget, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
