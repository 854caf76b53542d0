import type { AuditRepository } from '../repositories/audit.repository.js';
import type { DomainHandlers } from './request-context.js';

/** The audit log, newest first (admins only). */
export function createAuditHandlers(deps: { audit: AuditRepository }): DomainHandlers<'audit:query'> {
  return {
    'audit:query': async (q) => deps.audit.query(q),
  };
}
