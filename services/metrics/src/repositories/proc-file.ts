import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A procfs file kept open and re-read from offset 0 (`pread`), which procfs answers with fresh
 * content. One syscall per read instead of open/read/close, and synchronous on purpose: procfs is
 * served from kernel memory (never from a disk), so a read costs microseconds, far less than a
 * trip through libuv's thread pool and a promise.
 */
export class ProcFile {
  readonly path: string;
  private fd: number | null = null;
  private buffer: Buffer;

  constructor(path: string, initialSize = 4096) {
    this.path = path;
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  /** The file's current content; throws (ENOENT, ESRCH for a process that exited, ...) on failure. */
  read(): string {
    this.fd ??= openSync(this.path, 'r');
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
      } catch (err) {
        this.close();
        throw err;
      }
      if (n < this.buffer.length) {
        return this.buffer.toString('latin1', 0, n);
      }
      this.buffer = Buffer.allocUnsafe(this.buffer.length * 2);
    }
  }

  /** The content, or null when the file cannot be read. */
  tryRead(): string | null {
    try {
      return this.read();
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // Already closed.
      }
      this.fd = null;
    }
  }
}
