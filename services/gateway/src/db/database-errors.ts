import Database from 'better-sqlite3';
import { AppError, ErrorCode } from '@llamaproxy/shared';
import type { Logger } from '@llamaproxy/shared/node';

/**
 * What a client is told for each kind of SQLite failure that is about the database file or its
 * disk rather than about our code (SQLITE_CONSTRAINT, SQLITE_ERROR and the like stay INTERNAL).
 * Keyed by the primary result code; extended codes (`SQLITE_IOERR_WRITE`) match their prefix.
 */
const DATABASE_FAILURES = {
  SQLITE_FULL: 'the database could not be written: disk full',
  SQLITE_IOERR: 'the database could not be read or written: I/O error',
  SQLITE_BUSY: 'the database is busy (another writer holds it); try again',
  SQLITE_LOCKED: 'the database is locked; try again',
  SQLITE_READONLY: 'the database could not be written: it is read-only',
  SQLITE_CANTOPEN: 'the database file could not be opened',
  SQLITE_CORRUPT: 'the database file is damaged',
  SQLITE_NOTADB: 'the database file is damaged',
  SQLITE_NOMEM: 'the database ran out of memory',
} as const;

type FailureCode = keyof typeof DATABASE_FAILURES;

/** The primary code of a SQLite error about the database itself, or null for anything else. */
export function databaseFailureCode(err: unknown): FailureCode | null {
  if (!(err instanceof Database.SqliteError)) {
    return null;
  }
  for (const code of Object.keys(DATABASE_FAILURES) as FailureCode[]) {
    if (err.code === code || err.code.startsWith(`${code}_`)) {
      return code;
    }
  }
  return null;
}

/** A SQLite failure as the `DATABASE_ERROR` a client sees (the SQLite text stays in the log), or null. */
export function toDatabaseError(err: unknown): AppError | null {
  const code = databaseFailureCode(err);
  return code === null ? null : new AppError(ErrorCode.DATABASE_ERROR, DATABASE_FAILURES[code], { cause: err });
}

/**
 * The gateway's view of whether its database can be written, so that a full disk gives one log
 * line when it starts (and one when the condition changes, e.g. FULL to IOERR) and one when a write
 * succeeds again, not one per request or per retried stream batch.
 */
export class DatabaseCondition {
  private readonly log: Logger;
  private current: { code: FailureCode; since: number; failures: number } | null = null;

  constructor(logger: Logger) {
    this.log = logger.child({ module: 'database' });
  }

  /** The failing condition now, or null while writes work. */
  get failing(): FailureCode | null {
    return this.current?.code ?? null;
  }

  /**
   * Records a failure of `what` (`config:update`, `stream ingest`). Returns the `DATABASE_ERROR`
   * for a SQLite failure about the database (logged when the condition starts or changes), or null
   * for any other error, which the caller handles and logs as before.
   */
  failed(err: unknown, what: string): AppError | null {
    const error = toDatabaseError(err);
    const code = databaseFailureCode(err);
    if (error === null || code === null) {
      return null;
    }
    if (this.current?.code === code) {
      this.current.failures++;
    } else {
      this.current = { code, since: Date.now(), failures: 1 };
      this.log.error('database write failed; later failures of the same kind are not logged until it recovers', {
        code: (err as InstanceType<typeof Database.SqliteError>).code,
        error: (err as Error).message,
        what,
        answer: error.message,
      });
    }
    return error;
  }

  /** A write succeeded: ends the failing condition (one log line), if there was one. */
  succeeded(): void {
    if (this.current !== null) {
      this.log.info('database writes work again', { code: this.current.code, failures: this.current.failures, failingMs: Date.now() - this.current.since });
      this.current = null;
    }
  }
}
