import type { CaptureInput } from '../repositories/capture.repository.js';

/**
 * Gathers one `/v1` request's sides for the capture buffer while the answer streams: the body
 * sent (already in memory) and the answer's bytes as they pass, each kept up to `maxBytes` (the
 * rest is only counted, so a long answer costs no memory beyond the bound). Never logged.
 */
export class CaptureBuffer {
  private readonly maxBytes: number;
  private readonly request: Buffer;
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private seen = 0;

  constructor(maxBytes: number, requestBody: Buffer) {
    this.maxBytes = maxBytes;
    this.request = requestBody;
  }

  /** Takes a chunk of the answer as it is forwarded. */
  push(chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.kept < this.maxBytes) {
      const part = chunk.subarray(0, this.maxBytes - this.kept);
      this.chunks.push(Buffer.from(part));
      this.kept += part.length;
    }
  }

  /** Both sides as text (a character cut at the bound becomes U+FFFD), with whether each was cut. */
  result(): CaptureInput {
    return {
      request: this.request.subarray(0, this.maxBytes).toString('utf8'),
      requestTruncated: this.request.length > this.maxBytes,
      response: Buffer.concat(this.chunks).toString('utf8'),
      responseTruncated: this.seen > this.kept,
    };
  }
}
