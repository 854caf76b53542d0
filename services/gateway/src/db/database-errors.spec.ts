import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { AppError, ErrorCode } from '@llamaproxy/shared';
import { createLogger } from '@llamaproxy/shared/node';
import { DatabaseCondition, toDatabaseError } from './database-errors.js';

/** A real SQLITE_FULL: a database capped at a few pages, written past its cap. */
function diskFullError(): unknown {
  const db = new Database(':memory:');
  try {
    db.exec('CREATE TABLE t (v BLOB)');
    db.pragma('max_page_count = 4');
    for (let i = 0; i < 100; i++) {
      db.prepare('INSERT INTO t (v) VALUES (?)').run(Buffer.alloc(4096));
    }
  } catch (err) {
    return err;
  } finally {
    db.close();
  }
  throw new Error('the capped database took every write');
}

/** A real SQLITE_ERROR: a query about a table that does not exist (our bug, not the disk's). */
function queryError(): unknown {
  const db = new Database(':memory:');
  try {
    db.prepare('SELECT * FROM missing').all();
  } catch (err) {
    return err;
  } finally {
    db.close();
  }
  throw new Error('the query ran');
}

/** The messages a logger at `info` passes on, in order. */
function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: { level: string; message: string }[] } {
  const logger = createLogger({ service: 'test', level: 'info' });
  logger.transports.forEach((t) => (t.silent = true));
  const lines: { level: string; message: string }[] = [];
  logger.on('data', (info: { level: string; message: string }) => lines.push({ level: info.level, message: info.message }));
  return { logger, lines };
}

describe(toDatabaseError.name, () => {
  it('maps a full disk to DATABASE_ERROR with a message that says so, and leaves other errors alone', () => {
    const full = diskFullError();
    expect((full as { code?: string }).code).toBe('SQLITE_FULL');
    const sut = toDatabaseError;
    const error = sut(full);
    expect(error).toBeInstanceOf(AppError);
    expect(error?.toInfo()).toEqual({ code: ErrorCode.DATABASE_ERROR, message: 'the database could not be written: disk full' });
    expect(sut(queryError())).toBeNull();
    expect(sut(new Error('SQLITE_FULL'))).toBeNull();
  });

  it('matches extended result codes by their primary code', () => {
    expect(toDatabaseError(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE'))?.code).toBe(ErrorCode.DATABASE_ERROR);
    expect(toDatabaseError(new Database.SqliteError('busy', 'SQLITE_BUSY_SNAPSHOT'))?.message).toMatch(/busy/);
  });
});

describe(DatabaseCondition.name, () => {
  it('logs a failing condition once, again when it changes, and once when writes work again', () => {
    const { logger, lines } = recordingLogger();
    const sut = new DatabaseCondition(logger);
    const full = diskFullError();
    for (let i = 0; i < 5; i++) {
      expect(sut.failed(full, 'config:update')?.code).toBe(ErrorCode.DATABASE_ERROR);
    }
    expect(sut.failing).toBe('SQLITE_FULL');
    expect(sut.failed(queryError(), 'config:update')).toBeNull();
    expect(sut.failed(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE'), 'stream ingest')).not.toBeNull();
    sut.succeeded();
    sut.succeeded();
    expect(sut.failing).toBeNull();
    expect(lines.map((l) => `${l.level} ${l.message.split(';')[0]}`)).toEqual([
      'error database write failed',
      'error database write failed',
      'info database writes work again',
    ]);
  });
});
