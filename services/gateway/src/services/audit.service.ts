import { redactSecrets, type AuditOutcome, type ConnectionIdentity } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';
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

  constructor(repo: AuditRepository, activity: ActivityLog, logger: Logger) {
    this.repo = repo;
    this.activity = activity;
    this.log = logger.child({ module: 'audit' });
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
    } catch (err) {
      this.log.warn('audit record not stored', { event: input.event, error: (err as Error).message });
    }
  }
}

/** JSON of the payload without `requestId`, secrets redacted, cut to SUMMARY_MAX characters. */
export function summarize(payload: unknown): string {
  let value = payload;
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const { requestId: _id, ...rest } = payload as Record<string, unknown>;
    value = rest;
  }
  const text = JSON.stringify(redactSecrets(value ?? {})) ?? '{}';
  return text.length > SUMMARY_MAX ? `${text.slice(0, SUMMARY_MAX - 1)}…` : text;
}
